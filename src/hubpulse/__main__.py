from hubpulse.cli import app

app(prog_name="hubpulse")
