"""mc-backup: PostgreSQL backups that count only when they can be restored.

The program the `backup` role installs on the droplet as /usr/local/bin/mc-backup
(configuration in /etc/mc-backup/config.json, written by the role). A backup
counts only when pg_dump exited 0, the dump is fsynced, checksummed, readable
by pg_restore --list, renamed into place and its manifest written. Anything
less leaves a hidden temporary file that the next run removes, and the status
file keeps the last good backup.

Python 3 standard library, psycopg 3 (Debian's python3-psycopg) and the
pg_dump, pg_restore and restic programs; the command line is in
:mod:`mc_backup.cli`.
"""
