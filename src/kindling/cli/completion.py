"""``kindling completion bash|zsh|fish``: the shell completion script (click's).

The script asks ``kindling`` itself for completions (``_KINDLING_COMPLETE``), so it
always matches the installed commands and options. Install it once::

    kindling completion bash > ~/.local/share/bash-completion/completions/kindling
    kindling completion zsh  > "${fpath[1]}/_kindling"
    kindling completion fish > ~/.config/fish/completions/kindling.fish
"""

import click
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete

PROG_NAME = "kindling"
#: The variable click's completion scripts set when they ask for completions.
COMPLETE_VAR = "_KINDLING_COMPLETE"
SHELLS: dict[str, type[ShellComplete]] = {
    "bash": BashComplete,
    "zsh": ZshComplete,
    "fish": FishComplete,
}


@click.command("completion")
@click.argument("shell", type=click.Choice(sorted(SHELLS)))
def completion_command(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
      bash: kindling completion bash > ~/.local/share/bash-completion/completions/kindling
      zsh:  kindling completion zsh > "${fpath[1]}/_kindling"
      fish: kindling completion fish > ~/.config/fish/completions/kindling.fish
    """
    root = click.get_current_context().find_root().command
    script = SHELLS[shell](root, {}, PROG_NAME, COMPLETE_VAR).source()
    click.echo(script)
