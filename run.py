"""Entry point: `flask --app run <command>` and `flask --app run run`."""

from app import create_app

app = create_app()
