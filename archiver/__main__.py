"""``python -m archiver``: the ``archiver`` command, for when the venv's bin is not on PATH."""

from archiver.cli import console

if __name__ == "__main__":
    console(prog_name="archiver")
