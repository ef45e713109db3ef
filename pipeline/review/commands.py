"""CLI commands of the review app, registered on the main `letters` group by pipeline.cli:

    letters review --db PATH [--host 127.0.0.1 --port 8000]
    letters users add NAME --role reviewer|adjudicator|admin --db PATH [--password-stdin]
    letters users list --db PATH
    letters users passwd NAME --db PATH [--password-stdin]
    letters users disable NAME --db PATH / letters users enable NAME --db PATH

Errors are raised as typed LettersError; the main group turns them into exit codes.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from pipeline.errors import UsageError

DB_HELP = "Database file or SQLAlchemy URL (the one `letters run` wrote)."


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("review")
@click.option("--db", "db_path", required=True, type=str, help=DB_HELP)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The app speaks plain HTTP: keep it on 127.0.0.1 or put it behind a "
                   "TLS proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--proxy-headers", is_flag=True,
              help="Trust X-Forwarded-Proto/-For from the proxies in --forwarded-allow-ips (behind a TLS proxy: "
                   "the session cookie then gets Secure and pages HSTS).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Comma-separated addresses of the proxies whose forwarded headers are trusted ('*': any).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Serve HTTPS with this certificate (PEM); needs --tls-key.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The private key (PEM) of --tls-cert.")
@click.option("--overlap", type=click.FloatRange(0.0, 1.0), default=None,
              help="Assign the letters to the reviewers (role reviewer), this share of them to two, so agreement "
                   "is measured on a planned sample; each reviewer's queue shows their letters first. Kept in "
                   "the database for every app process; e.g. --overlap 0.2.")
@click.option("--no-overlap", is_flag=True, help="Stop assigning letters (remove the --overlap setting).")
def review(db_path: str, host: str, port: int, proxy_headers: bool, forwarded_allow_ips: str,
           tls_cert: Path | None, tls_key: Path | None, overlap: float | None, no_overlap: bool) -> None:
    """Start the reviewer web app on the database.

    Create accounts first with `letters users add`. The session key comes from
    $LETTERS_SECRET_KEY, else from a key file created next to the database.
    """
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    import uvicorn

    from pipeline.review.app import create_app

    if "://" not in db_path and not Path(db_path).is_file():
        raise UsageError(f"database not found: {db_path} (run `letters run` first)")

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and tls_cert is None and not proxy_headers:
        click.echo(f"warning: listening on {host} without TLS; passwords cross the network in clear text",
                   err=True)
    from pipeline.preflight import database_is_read_only

    readonly = database_is_read_only(db_path)
    if readonly:
        click.echo(f"note: {db_path} is read-only: letters can be read, decisions cannot be saved", err=True)
    if overlap is not None or no_overlap:
        if overlap is not None and no_overlap:
            raise UsageError("--overlap and --no-overlap exclude each other")
        if readonly:
            raise UsageError("the overlap setting is kept in the database, which is read-only here")
        set_review_overlap(db_path, None if no_overlap else overlap)
    app = create_app(db_path, readonly=readonly)
    scheme = "https" if tls_cert else "http"
    click.echo(f"review app on {scheme}://{host}:{port}/ (Ctrl+C to stop)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=proxy_headers,
                forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None, server_header=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)


def set_review_overlap(db_path: str, share: float | None) -> None:
    """Store the reviewer overlap setting (None: no assignment) in the database."""
    from pipeline.store import queue
    from pipeline.store.db import Database

    db = Database(db_path)
    try:
        db.write(lambda s: queue.set_overlap(s, share), "saving the overlap setting")
    finally:
        db.close()
    click.echo("reviewer overlap: " + ("off" if share is None else f"{share:.0%} of the letters to two reviewers"),
               err=True)


@click.group("users")
def users() -> None:
    """Manage the accounts of the review app."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["reviewer", "adjudicator", "admin"]), default="reviewer", show_default=True,
              help="reviewer: reviews letters; adjudicator: also decides where reviewers disagree; "
                   "admin: both, and manages the review process.")
@click.option("--db", "db_path", required=True, type=str, help=DB_HELP)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of prompting (for scripts).")
def users_add(name: str, role: str, db_path: str, password_stdin: bool) -> None:
    """Create the account NAME; the password is asked twice (stored as an argon2 hash)."""
    from pipeline.review import auth
    from pipeline.store.db import Database

    auth.validate_name(name)
    password = _read_password(password_stdin)
    if "://" not in db_path and not Path(db_path).exists():
        click.echo(f"note: {db_path} did not exist; a new database was created there", err=True)
    db = Database(db_path)
    try:
        db.write(lambda s: auth.add_user(s, name, role, password), "adding the user")
    finally:
        db.close()
    click.echo(f"user {name} ({role}) added")


@users.command("passwd")
@click.argument("name")
@click.option("--db", "db_path", required=True, type=str, help=DB_HELP)
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
def users_passwd(name: str, db_path: str, password_stdin: bool) -> None:
    """Set a new password for NAME."""
    from pipeline.review import auth
    from pipeline.store.db import Database

    password = _read_password(password_stdin)
    db = Database(db_path)
    try:
        db.write(lambda s: auth.set_password(s, name, password), "changing the password")
    finally:
        db.close()
    click.echo(f"password of {name} changed")


def _set_active(name: str, db_path: str, active: bool) -> None:
    from pipeline.review import auth
    from pipeline.store.db import Database

    db = Database(db_path)
    try:
        db.write(lambda s: auth.set_active(s, name, active), "changing the user")
    finally:
        db.close()


@users.command("disable")
@click.argument("name")
@click.option("--db", "db_path", required=True, type=str, help=DB_HELP)
def users_disable(name: str, db_path: str) -> None:
    """Disable NAME: logins and open sessions stop working at once; decisions are kept."""
    _set_active(name, db_path, False)
    click.echo(f"user {name} disabled")


@users.command("enable")
@click.argument("name")
@click.option("--db", "db_path", required=True, type=str, help=DB_HELP)
def users_enable(name: str, db_path: str) -> None:
    """Enable NAME again."""
    _set_active(name, db_path, True)
    click.echo(f"user {name} enabled")


@users.command("list")
@click.option("--db", "db_path", required=True, type=str, help=DB_HELP)
def users_list(db_path: str) -> None:
    """List the accounts (name, role, active, created)."""
    from sqlalchemy import select

    from pipeline.preflight import database_is_read_only
    from pipeline.store.db import Database
    from pipeline.store.tables import UserRow

    if "://" not in db_path and not Path(db_path).is_file():
        raise UsageError(f"database not found: {db_path}")
    db = Database(db_path, readonly=database_is_read_only(db_path))
    try:
        with db.session() as s:
            rows = list(s.scalars(select(UserRow).order_by(UserRow.name)))
            for r in rows:
                click.echo(f"{r.name}\t{r.role}\t{'active' if r.active else 'disabled'}\t{r.created_at:%Y-%m-%d}")
    finally:
        db.close()
    if not rows:
        click.echo("no users yet: add one with `letters users add NAME --role admin --db PATH`", err=True)

