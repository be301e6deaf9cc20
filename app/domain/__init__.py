"""The rules. Views, REST APIs and commands are thin adapters over these functions: they flush but
never commit; the caller's unit of work commits."""
