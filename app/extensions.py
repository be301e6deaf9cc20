"""Extensions that live for the whole process. AppBuilder is made per app in create_app()."""

from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate

# One MetaData for FAB's tables and ours, so Alembic sees a single schema (STACK.md).
db = SQLA(metadata=Model.metadata)
migrate = Migrate()
