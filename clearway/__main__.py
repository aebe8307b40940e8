from clearway.cli import app

app()
