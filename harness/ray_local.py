"""Starting a local Ray runtime that only this machine can reach.

A Ray runtime the harness starts for itself (``--executor ray`` without ``--address``, Ape-X's
actors) is a single-node runtime: nothing outside the machine needs to reach it, and by
default Ray's processes (GCS, raylet, workers, dashboard agent) listen on every interface,
where anyone on the network could submit code to them. :func:`init_local` starts it bound to
the loopback interface with the dashboard off:

* ``_node_ip_address="127.0.0.1"``: the node's address (``ray.init`` keyword);
* ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray's switch for single-machine mode): without it
  Ray replaces a loopback node address by the machine's network address, and its gRPC
  servers then listen on all interfaces. Set in this process's environment (the Ray
  processes inherit it) and in Ray's already-imported constants;
* ``include_dashboard=False``.

Connecting to an existing cluster (``address=...`` or the ``RAY_ADDRESS`` environment variable)
is left as the cluster is configured, except that a cluster addressed on loopback
(``127.0.0.1:PORT``, a head started with ``--node-ip-address 127.0.0.1``) is joined in the same
single-machine mode (else Ray rewrites the address to the machine's network address and
cannot reach the head). :func:`connect` is the one way the harness gets a Ray
runtime (the sweep's ``--executor ray`` and Ape-X's ``executor="ray"`` both call it): an
initialized runtime is reused, an address (argument, else ``RAY_ADDRESS``) joins that cluster
(``ray.init(address=...)``; resource counts such as ``num_cpus`` belong to the cluster and are
not passed), otherwise a loopback-only local runtime is started with :func:`init_local`.
Ray is imported only when called.
"""

from __future__ import annotations

import os

LOOPBACK = "127.0.0.1"
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _single_machine() -> None:
    os.environ[SINGLE_MACHINE_ENV] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # read when ray.init resolves the node's address


def _token_auth_if_available() -> None:
    """Clusters started with ``ray start`` use token authentication when a token exists; a
    driver joining one must enable it too or is refused. Enable it when ``RAY_AUTH_MODE`` is
    unset and a token is available (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``), as Ray does for the clusters it starts itself."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _is_loopback_address(address: str) -> bool:
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return is_loopback(host)
    except ValueError:
        return False


def init_local(**kwargs):
    """``ray.init(**kwargs)`` of a new local runtime on the loopback interface, dashboard off.

    ``kwargs`` may not name an address (use ``ray.init`` directly to join a cluster).
    """
    if kwargs.get("address"):
        raise ValueError("init_local starts a local runtime; call ray.init(address=...) to join a cluster")
    import ray

    _single_machine()
    kwargs.setdefault("include_dashboard", False)
    kwargs["_node_ip_address"] = LOOPBACK
    return ray.init(**kwargs)


def connect(address: str | None = None, *, num_cpus: int | None = None, runtime_env: dict | None = None,
            log_to_driver: bool = False) -> bool:
    """Make sure this process has a Ray runtime; return True when this call initialized it (a
    new local runtime, or this process joined a cluster: the caller may ``ray.shutdown()`` when
    done, which leaves a cluster running), False when Ray was already initialized.

    ``address``: a cluster to join (``"host:port"`` of its GCS, or ``"auto"``); ``None`` reads
    ``RAY_ADDRESS``; empty or unset: a new local runtime of ``num_cpus`` CPUs on the loopback
    interface. ``runtime_env`` is passed in both cases (e.g. ``PYTHONPATH`` so that workers
    import this checkout's code).
    """
    try:
        import ray
    except ImportError:
        from harness.errors import ConfigError

        raise ConfigError("Ray is not installed: pip install 'nas-harness[ray]'") from None
    if ray.is_initialized():
        return False
    address = address if address is not None else os.environ.get("RAY_ADDRESS", "")
    kw: dict = {"log_to_driver": log_to_driver, "ignore_reinit_error": True}
    if runtime_env:
        kw["runtime_env"] = runtime_env
    if address:
        if _is_loopback_address(address):  # a cluster on this machine: reach it on loopback too
            _single_machine()
            kw["_node_ip_address"] = LOOPBACK
        _token_auth_if_available()
        try:
            ray.init(address=address, **kw)
        except (ConnectionError, ValueError) as e:
            from harness.errors import ConfigError

            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"cannot connect to the Ray cluster at {address!r} ({first}); "
                              "start it with `ray start --head` or give the right --address / RAY_ADDRESS") from None
        return True
    env_address = os.environ.pop("RAY_ADDRESS", None)  # an empty RAY_ADDRESS would confuse ray.init
    try:
        init_local(num_cpus=num_cpus, **kw)
    finally:
        if env_address is not None:
            os.environ["RAY_ADDRESS"] = env_address
    return True


def code_path_env(extra_env: dict | None = None) -> dict:
    """A ``runtime_env`` whose workers import this checkout of the harness first
    (``PYTHONPATH`` = the repository root + the current ``PYTHONPATH``)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path, **(extra_env or {})}}


def listening_addresses(pids) -> list[tuple[int, str, int]]:
    """``(pid, local ip, port)`` of every listening TCP socket of the processes ``pids``
    (Linux, from ``/proc``): how tests check that nothing listens beyond loopback."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            if len(parts) < 10 or parts[3] != "0A":  # 0A: LISTEN
                continue
            if parts[9] in inodes:
                ip_hex, port_hex = parts[1].split(":")
                out.append((inodes[parts[9]], _ip(ip_hex, v6), int(port_hex, 16)))
    return out


def _ip(hexaddr: str, v6: bool) -> str:
    import ipaddress

    raw = bytes.fromhex(hexaddr)
    # /proc writes each 32-bit word in host (little-endian) order
    fixed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(fixed)
    if v6 and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def is_loopback(ip: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(ip).is_loopback
