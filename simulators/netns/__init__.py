"""Separate machines for scenarios that need them: Linux network namespaces joined by veth pairs, real OpenSSH
between them, and processes (the CLI, sshd, ssh, a browser) started inside them.

`hosts.Network` builds a laptop, a remote machine and a cloud host; `ssh` runs sshd on the remote and `ssh -L`
on the laptop; `browser_walk` is the laptop's browser as a process; `cloud` runs the OAuth issuer on the cloud
host. Needs root (CAP_NET_ADMIN) and iproute2/OpenSSH (`scripts/ensure-system-deps`).
"""
