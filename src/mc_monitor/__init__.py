"""mc-monitor: the droplet's checks, and an alert when one of them changes state.

The program the `monitoring` role installs on the droplet (configuration in
/etc/mc-monitor/config.json, secrets in the environment). A systemd timer runs a
round every minute: the app directly and through nginx, mc-backup's status
file, the certificate nginx serves, disk, memory, a pending reboot and failed
units. A check alerts when it starts failing and when it recovers, not every
minute in between; a round in which everything passes pings a dead-man URL.

Python 3 standard library only; the command line is in :mod:`mc_monitor.cli`.
"""
