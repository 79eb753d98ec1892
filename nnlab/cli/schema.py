"""`nnlab schema`: the JSON Schema of the config format, for editors and the YAML language server."""

import typer

from nnlab.cli.main import command


@command
def schema(
    indent: int = typer.Option(2, help="Indentation of the JSON (0: one line)."),
):
    """Print the JSON Schema of the config format.

    Generated from the same pydantic models that validate configs.

    \b
    Example:
      nnlab schema > nnlab.schema.json
    """
    import json
    import sys

    from nnlab.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=indent or None) + "\n")
