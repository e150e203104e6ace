"""One module per `cors-lab` subcommand: `add_parser` declares its arguments, `execute` does it and returns the exit
status. `common` holds what several of them share; `lab/cli.py` puts them together."""
