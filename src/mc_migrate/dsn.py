"""The database URL: read it, hold it to the TLS rule, name it without secrets.

Nothing here returns or raises text that holds the URL, a password, or a part
of the URL that could be one: a password with an unescaped "/" or "@" splits
where its author did not mean it to, so its pieces would land in a "host" or
a "database" name. Such a URL is refused before anything reads it further.
"""

from __future__ import annotations

import ipaddress
import os
import re

import psycopg

from mc_migrate.errors import TargetError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING = ("verify-ca", "verify-full")
FORM = "postgresql://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=verify-full&sslrootcert=CA_FILE"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


def _check_url_shape(dsn: str) -> None:
    scheme, rest = dsn.split("://", 1)
    if scheme.lower() not in ("postgresql", "postgres"):
        raise TargetError(f"the database URL must start with postgresql:// (the form is {FORM})")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if authority.count("@") > 1 or ("@" not in authority and "@" in rest):
        raise TargetError(
            "the database URL's user or password holds a character that must be "
            "percent-encoded (/ ? # @ : %): encode it, for example with "
            "python3 -c 'import urllib.parse, getpass; "
            'print(urllib.parse.quote(getpass.getpass(), safe=""))\''
        )


def parse(dsn: str | None) -> dict[str, str]:
    """The URL's connection parameters, or a TargetError that names no secret."""
    if not dsn:
        raise TargetError("no database URL given (set DATABASE_URL)")
    if "://" in dsn:
        _check_url_shape(dsn)
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        raise TargetError(f"the database URL cannot be read (the form is {FORM})") from None
    mode = str(info.get("sslmode") or os.environ.get("PGSSLMODE") or "prefer")
    if mode not in SSLMODES:
        shown = f"sslmode={mode}" if re.fullmatch(r"[a-z-]{1,20}", mode) else "its sslmode"
        raise TargetError(
            f"the database URL's {shown} is not a mode libpq knows: use sslmode=verify-full"
        )
    return {k: str(v) for k, v in info.items() if v is not None}


def _hosts(info: dict[str, str]) -> list[str]:
    hosts = info.get("hostaddr") or info.get("host") or os.environ.get("PGHOST") or ""
    return [h.strip() for h in hosts.split(",")] if hosts else [""]


def _is_local(host: str) -> bool:
    if host in ("", "localhost") or host.startswith(("/", "@")):
        return True  # a Unix socket, or this machine by name
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local(info: dict[str, str]) -> bool:
    """Every host the URL names is this machine (a Unix socket or loopback)."""
    return all(_is_local(h) for h in _hosts(info))


def where(info: dict[str, str]) -> str:
    """host:port/dbname (or socket DIR/dbname): what a message may say."""
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    db = info.get("dbname") or info.get("user") or "?"
    db = db if _NAME.match(db) else "?"
    shown = []
    for host in _hosts(info):
        if not host or host.startswith(("/", "@")):
            shown.append(f"socket {host or 'default'}")
        elif _NAME.match(host) or _is_ip(host):
            shown.append(f"{host}:{port}")
        else:
            shown.append(f"?:{port}")
    return ",".join(shown) + f"/{db}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def describe(dsn: str | None) -> str:
    """where() of a URL, or what can be said of one that does not read."""
    try:
        return where(parse(dsn))
    except TargetError:
        return "an unreadable database URL"


def check_tls(info: dict[str, str]) -> None:
    """Refuse, before connecting, a remote server reached without a verified TLS."""
    if is_local(info):
        return
    mode = info.get("sslmode") or os.environ.get("PGSSLMODE") or "prefer"
    if mode in VERIFYING:
        return
    risk = {
        "disable": "sends the password and the data in clear",
        "allow": "may send the password and the data in clear",
        "prefer": "may send the password and the data in clear",
        "require": "encrypts but never checks who answers",
    }[mode]
    raise TargetError(
        f"the database at {where(info)} would be reached with sslmode={mode}, which {risk}: "
        "add sslmode=verify-full&sslrootcert=<the server's CA certificate file> to the URL "
        "(only a Unix socket or a loopback address may go without)"
    )
