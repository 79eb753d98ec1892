from nnlab.cli import app

app(prog_name="nnlab")
