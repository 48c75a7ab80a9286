"""``kindling``: serve, manage applications and users, mint test tokens.

Every command takes ``--data-dir`` (or ``KINDLING_DATA_DIR``) and honours
``KINDLING_DATABASE_URL`` and ``KINDLING_MASTER_KEY``, so it works on the same
data as a running server; only ``serve`` creates a data dir (``kindling.cli.datadir``).
The data commands (``kindling.cli.data``) also work on a remote server through the
Management API (``--profile``, ``--remote``; ``kindling.cli.target``). Expected failures
are one line and an exit status (``kindling.cli.errors``).
"""

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from kindling import __version__
from kindling.cli import data
from kindling.cli.completion import completion_command
from kindling.cli.datadir import opened_data_dir, settings_from_env
from kindling.cli.db import db_group
from kindling.cli.environment_file import apply_command, export_command
from kindling.cli.errors import EXIT_STATUS_HELP, KindlingGroup, NotSetUp, route_logs
from kindling.cli.migrate import migrate_command
from kindling.cli.options import data_dir_option, json_option
from kindling.cli.output import emit_json, fields, table
from kindling.cli.profiles import profile_group
from kindling.cli.serve_options import operations_options, operations_overrides
from kindling.cli.target import require_local
from kindling.config import DEFAULT_HOST, DEFAULT_PORT, Settings
from kindling.oauth.errors import OAuthError
from kindling.platform import audit
from kindling.platform.context import Context
from kindling.platform.errors import KindlingError
from kindling.resources.environment.repository import ENVIRONMENT_REPO
from kindling.web.logs import LOG_FORMATS

__all__ = ["cli", "data_dir_option", "json_option", "main", "opened"]


@contextmanager
def opened(data_dir: Path) -> Iterator[Context]:
    """Open a data dir that ``kindling serve`` set up, for one command (a data dir that
    was never set up is refused with exit status 2, and nothing is created)."""
    require_local()
    with opened_data_dir(data_dir) as ctx:
        yield ctx


def needs_setup(ctx: Context) -> None:
    with ctx.storage.read() as uow:
        if uow[ENVIRONMENT_REPO].get_issuer() is None:
            raise click.ClickException(
                "this data dir has not been set up yet: run `kindling serve` once"
            )
    ctx.keyring.reload()


@click.group(cls=KindlingGroup, epilog=EXIT_STATUS_HELP)
@click.version_option(__version__, prog_name="kindling")
@click.option(
    "--profile",
    envvar="KINDLING_PROFILE",
    help="Run data commands on this remote server (kindling profile add).",
)
@click.option("--remote", metavar="URL", help="Run data commands on the server at URL.")
@click.option("--client-id", help="With --remote [default: $KINDE_MANAGEMENT_CLIENT_ID].")
@click.option("--client-secret", help="With --remote [default: $KINDE_MANAGEMENT_CLIENT_SECRET].")
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, exists=True),
    help="CA certificate to trust for --remote/--profile.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of unexpected errors.")
@click.pass_context
def cli(
    context: click.Context,
    profile: str | None,
    remote: str | None,
    client_id: str | None,
    client_secret: str | None,
    ca_file: str | None,
    debug: bool,
) -> None:
    """Kindling: a self-hosted server for Kinde's M2M OAuth flow and Management API.

    The data commands (users, orgs, roles, permissions, apps, apis, flags, webhooks) work
    on --data-dir, or on a remote server with --profile NAME or --remote URL.
    """
    context.obj = {
        "profile": profile,
        "remote": remote,
        "client_id": client_id,
        "client_secret": client_secret,
        "ca_file": ca_file,
        "debug": debug,
    }
    if context.invoked_subcommand != "serve":
        route_logs(debug)
        # The audit rows of changes a command makes name the CLI and the OS user
        # (platform.audit); ``serve`` leaves it unset, its requests name their callers.
        audit.begin(audit.CLI, _os_user(), None, context.invoked_subcommand)


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


@cli.command()
@data_dir_option
@click.option("--host", default=DEFAULT_HOST, show_default=True, envvar="KINDLING_HOST")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, envvar="KINDLING_PORT")
@click.option("--issuer", envvar="KINDLING_ISSUER", help="Public base URL (default: derived).")
@click.option("--tls", is_flag=True, help="Serve HTTPS with a local CA (or --tls-cert/--tls-key).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--tls-hostname", "tls_hostnames", multiple=True, help="Extra name for the local certificate."
)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS, case_sensitive=False),
    envvar="KINDLING_LOG_FORMAT",
    help="Log lines as text, or one JSON object per line [default: text].",
)
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="KINDLING_SEED",
    help="Apply this environment file before serving (kindling apply, never pruning).",
)
@operations_options
def serve(
    data_dir: Path,
    host: str,
    port: int,
    issuer: str | None,
    tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_hostnames: tuple[str, ...],
    workers: int,
    access_log: bool,
    log_format: str | None,
    seed: Path | None,
    **operations: Any,
) -> None:
    """Run the server (creates everything it needs on first run)."""
    from kindling.cli.environment_file import read_seed
    from kindling.serve import run

    require_local()
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    settings = settings_from_env(
        data_dir=data_dir,
        host=host,
        port=port,
        issuer=issuer,
        tls=tls or tls_cert is not None,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_hostnames=tls_hostnames,
        workers=workers,
        log_format=log_format.lower() if log_format else None,
        **operations_overrides(**operations),
    )
    try:
        run(settings, access_log=access_log, seed=read_seed(seed) if seed else None)
    except KindlingError as exc:
        raise click.ClickException(exc.message) from None


@cli.command()
@data_dir_option
@click.option("--app", "app_id", required=True, help="Application (client) id.")
@click.option("--audience", "audiences", required=True, multiple=True)
@click.option("--scope", "scopes", multiple=True, help="Scope to include (default: all granted).")
@json_option
def token(
    data_dir: Path,
    app_id: str,
    audiences: tuple[str, ...],
    scopes: tuple[str, ...],
    as_json: bool,
) -> None:
    """Mint a test access token for an application, exactly as /oauth2/token would."""
    from kindling.resources.applications.tokens import mint_token

    with opened(data_dir) as ctx:
        needs_setup(ctx)
        try:
            body = mint_token(ctx, app_id, list(audiences), list(scopes))
        except OAuthError as exc:
            raise click.ClickException(f"{exc.error}: {exc.description}") from None
    if as_json:
        emit_json(body)
    else:
        click.echo(body["access_token"])


@cli.group("admin")
def admin_group() -> None:
    """The admin console's owner account."""


@admin_group.command("set-password")
@data_dir_option
@click.option("--username", default="admin", show_default=True, help="Console account.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@click.option("--generate", is_flag=True, help="Generate a random password and print it.")
def admin_set_password(data_dir: Path, username: str, password_stdin: bool, generate: bool) -> None:
    """Set the admin console password (at least 12 characters); ends the account's sessions."""
    from kindling.resources.admin import service as admin

    if password_stdin and generate:
        raise click.UsageError("--password-stdin and --generate exclude each other")
    if generate:
        password = admin.generate_password()
    elif password_stdin:
        import sys

        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with opened(data_dir) as ctx:
        created = admin.set_password(ctx.storage, ctx.clock, password, username)
    click.echo(
        f"Created the console account {username}."
        if created
        else f"Changed the password of {username}; its sessions were ended."
    )
    if generate:
        click.echo(f"password: {password}")


@cli.group("postman")
def postman_group() -> None:
    """Postman collection and environment of the Management API."""


@postman_group.command("export")
@data_dir_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default="kindling.postman_collection.json",
    show_default=True,
    help="Where to write the collection (Postman format v2.1).",
)
@click.option(
    "--environment",
    "environment_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the environment [default: kindling.postman_environment.json "
    "next to the collection].",
)
@click.option("--business-domain", help="business_domain value [default: the data dir's issuer].")
@click.option("--client-id", default="", help="client_id value for the environment.")
def postman_export(
    data_dir: Path,
    output: Path,
    environment_path: Path | None,
    business_domain: str | None,
    client_id: str,
) -> None:
    """Write a Postman collection of the Management API and an environment for it."""
    import json

    from kindling.web import postman
    from kindling.web.app import management_operations
    from kindling.web.openapi import build_document

    domain = business_domain
    if domain is None:
        # Without --business-domain, the data dir must be one ``kindling serve`` set up.
        try:
            with opened(data_dir) as ctx, ctx.storage.read() as uow:
                domain = uow[ENVIRONMENT_REPO].get_issuer()
        except NotSetUp as exc:
            raise NotSetUp(f"{exc.message}; or give --business-domain") from None
    domain = (domain or Settings().public_issuer()).rstrip("/")
    document = build_document(management_operations(), [domain])
    environment_path = environment_path or output.with_name(postman.ENVIRONMENT_FILENAME)
    files = (
        (output, postman.build_collection(document)),
        (environment_path, postman.build_environment(domain, client_id=client_id)),
    )
    for path, payload in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"collection:  {output}")
    click.echo(f"environment: {environment_path}  (business_domain={domain})")
    click.echo("Set client_id and client_secret in the environment, then Get New Access Token.")


# ``webhooks list/create/delete`` are data commands (kindling.cli.data); the delivery
# log and re-sending read the data dir directly.
webhooks_group = data.webhooks_group


@webhooks_group.command("deliveries")
@data_dir_option
@click.option("--webhook", "webhook_id", help="Only this webhook's deliveries.")
@click.option(
    "--status", type=click.Choice(["pending", "delivered", "failed"]), help="Only this status."
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
def webhooks_deliveries(
    data_dir: Path, webhook_id: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """List the latest deliveries, newest first (with every attempt in --json)."""
    from kindling.resources.webhooks.model import attempt_item, delivery_item
    from kindling.resources.webhooks.service import list_deliveries

    with opened(data_dir) as ctx:
        views = list_deliveries(ctx.storage, limit, webhook_id, status)
    if as_json:
        emit_json(
            [
                {**delivery_item(v.delivery), "attempt_log": [attempt_item(a) for a in v.attempts]}
                for v in views
            ]
        )
        return
    table(
        ["DELIVERY (webhook-id)", "EVENT", "WEBHOOK", "STATUS", "ATTEMPTS", "LAST", "ERROR"],
        [
            [
                v.delivery.id,
                v.delivery.event_id,
                v.delivery.webhook_id,
                v.delivery.status,
                v.delivery.attempts,
                v.delivery.last_attempt_on or "",
                v.delivery.last_error or "",
            ]
            for v in views
        ],
    )


@webhooks_group.command("resend")
@data_dir_option
@click.argument("event_id")
@json_option
def webhooks_resend(data_dir: Path, event_id: str, as_json: bool) -> None:
    """Queue EVENT_ID again to every webhook subscribed to its type (a running server
    sends it within a second)."""
    from kindling.resources.webhooks.service import resend_event

    with opened(data_dir) as ctx:
        queued = resend_event(ctx.storage, ctx.clock, event_id, ctx.settings.webhook_retry_window)
    items = [{"id": d.id, "webhook_id": d.webhook_id} for d in queued]
    if as_json:
        emit_json({"event_id": event_id, "deliveries": items})
        return
    if not items:
        click.echo(f"No webhook is subscribed to the type of {event_id}; nothing was queued.")
        return
    for item in items:
        click.echo(f"queued {item['id']} for {item['webhook_id']}")


@cli.group("keys")
def keys_group() -> None:
    """Signing keys: list, rotate (publish-before-sign), emergency revoke."""


def _set_up(ctx: Context) -> None:
    """Refuse a data dir that was never served (without loading the keys, which
    ``keys`` must be able to repair)."""
    with ctx.storage.read() as uow:
        if uow[ENVIRONMENT_REPO].get_issuer() is None:
            raise click.ClickException(
                "this data dir has not been set up yet: run `kindling serve` once"
            )


def _key_rows(keys: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            k["kid"],
            k["state"],
            (k["activates_on"] or "")[:19],
            (k["retired_on"] or "")[:19],
            (k["published_until"] or ("-" if not k["is_published"] else "until revoked"))[:19],
        ]
        for k in keys
    ]


@keys_group.command("list")
@data_dir_option
@json_option
def keys_list(data_dir: Path, as_json: bool) -> None:
    """List every signing key with its state now (next, active, retired, expired, revoked)."""
    from kindling.resources.signing_keys import service as signing_keys

    with opened(data_dir) as ctx:
        _set_up(ctx)
        keys = [signing_keys.key_data(state) for state in signing_keys.list_keys(ctx)]
    if as_json:
        emit_json(keys)
        return
    table(["KID", "STATE", "SIGNS FROM", "RETIRED", "PUBLISHED UNTIL"], _key_rows(keys))


@keys_group.command("rotate")
@data_dir_option
@click.option(
    "--publish-delay",
    type=int,
    default=None,
    help="Seconds the new key is published before it signs "
    "[default: 310, the JWKS cache max-age of 300 s plus a margin].",
)
@json_option
def keys_rotate(data_dir: Path, publish_delay: int | None, as_json: bool) -> None:
    """Publish a new signing key now; it signs once the publish delay has passed.

    The key it replaces keeps verifying, and stays in the JWKS until the last token it
    signed has expired. With no usable key at all, the new key signs at once.
    """
    from kindling.resources.signing_keys import service as signing_keys

    with opened(data_dir) as ctx:
        _set_up(ctx)
        rotation = signing_keys.rotate_keys(ctx, publish_delay)
    key = signing_keys.key_data(rotation.key)
    previous = signing_keys.key_data(rotation.previous) if rotation.previous else None
    if as_json:
        emit_json({"key": key, "previous_key": previous})
        return
    fields(
        [
            ("new key", key["kid"]),
            ("published", "now"),
            ("signs from", key["activates_on"]),
            ("replaces", previous["kid"] if previous else "(nothing: no key was signing)"),
            (
                "replaced key published until",
                previous["published_until"] if previous else "-",
            ),
        ]
    )


@keys_group.command("revoke")
@data_dir_option
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def keys_revoke(data_dir: Path, kid: str, yes: bool, as_json: bool) -> None:
    """Emergency revoke of KID: out of the JWKS at once, its tokens refused at once.

    If KID signs, the pending next key signs at once instead, or a new key does
    (verifiers elsewhere meet it unannounced and must refetch the JWKS).
    """
    from kindling.resources.signing_keys import service as signing_keys

    if not yes and not as_json:
        click.confirm(
            f"Revoke the signing key {kid}? Every token it signed stops working now.",
            abort=True,
        )
    with opened(data_dir) as ctx:
        _set_up(ctx)
        revocation = signing_keys.revoke_key(ctx, kid)
    if revocation is None:
        if as_json:
            emit_json({"key": None, "already_revoked": True})
        else:
            click.echo(f"The signing key {kid} was already revoked.")
        return
    key = signing_keys.key_data(revocation.key)
    replacement = signing_keys.key_data(revocation.replacement) if revocation.replacement else None
    if as_json:
        emit_json({"key": key, "replacement_key": replacement, "already_revoked": False})
        return
    fields(
        [
            ("revoked", key["kid"]),
            ("was", revocation.previous_state),
            ("now signing", replacement["kid"] if replacement else "(unchanged)"),
        ]
    )


@cli.command("audit")
@data_dir_option
@click.option("--actor", help="Only this actor: a client id or a console username.")
@click.option("--action", help="Only this action (user.created), or a prefix: user.*")
@click.option("--target", help="Only this target: TYPE:ID, TYPE: or ID.")
@click.option("--since", help="From this time on: ISO 8601, Unix seconds or an age (2h, 7d).")
@click.option("--until", help="Before this time (same forms as --since).")
@click.option("--result", type=click.Choice(["success", "failure"]), help="Only this result.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def audit_command(
    data_dir: Path,
    actor: str | None,
    action: str | None,
    target: str | None,
    since: str | None,
    until: str | None,
    result: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the audit log, newest first: changes, refusals, tokens, console sign-ins."""
    from kindling.resources.audit import service as audit_log

    with opened(data_dir) as ctx:
        where = audit_log.build_filter(
            ctx.clock.now(),
            actor=actor,
            action=action,
            target=target,
            result=result,
            since=since,
            until=until,
        )
        entries = audit_log.search(ctx.storage, where, limit)
    if as_json:
        emit_json([audit_log.entry_item(e) for e in entries])
        return
    rows = []
    for e in entries:
        moment = datetime.fromtimestamp(e.occurred_at / 1000, UTC)
        target_text = ":".join(p for p in (e.target_type, e.target_id) if p)
        outcome = e.result if e.error_code is None else f"{e.result} {e.error_code}"
        rows.append(
            [
                moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:23],
                e.action,
                outcome,
                f"{e.actor_type}:{e.actor_id or '-'}",
                target_text,
                e.ip or "",
                e.request_id or "",
                e.count,
            ]
        )
    table(["TIME (UTC)", "ACTION", "RESULT", "ACTOR", "TARGET", "IP", "REQUEST", "COUNT"], rows)


for _group in data.GROUPS:
    if _group.name not in cli.commands:
        cli.add_command(_group)
cli.add_command(profile_group)
cli.add_command(completion_command)
cli.add_command(apply_command)
cli.add_command(export_command)
cli.add_command(migrate_command)
cli.add_command(db_group)


def main() -> None:
    cli(prog_name="kindling")
