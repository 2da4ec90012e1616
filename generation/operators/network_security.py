"""Name resolution, proxies and certificate authorities: how the tests reach a server and trust it."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, FileTarget, ModuleTarget, register, run
from cligym.generation.operators.probe_targets import http_client_modules, probed_file
from cligym.generation.operators.python_packages import pth_hook, remove_pth_files

PROXY_PTH_NAMES = ["corp_proxy.pth", "zz-network-defaults.pth", "_netconfig.pth"]
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@register
class NsswitchHostsBroken(FaultOperator[FileTarget]):
    name = "nsswitch-hosts-broken"
    category = Category.NETWORK_SECURITY
    description = "Make host-name lookups use a name service that is not installed"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        # Docker bind-mounts /etc/hosts and resolv.conf over the image's, so nsswitch.conf is the lever.
        return probed_file(gold, "/etc/nsswitch.conf")

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        # glibc reads nsswitch.conf once per process, often for a user lookup: the tests that resolve a
        # host name are the ones a broken hosts line fails.
        footprint = gold.footprint
        if footprint is None:
            return None
        return footprint.tests_using_any("hosts", footprint.things("hosts"))

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        service = rng.choice(["db", "nis", "ldap"])
        return [run(f"sed -i 's/^hosts:.*/hosts:          {service}/' /etc/nsswitch.conf")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        # libc-bin keeps the stock file it installs from.
        return ["cp /usr/share/libc-bin/nsswitch.conf /etc/nsswitch.conf"]


@register
class ProxyInjectedAtStartup(FaultOperator[ModuleTarget]):
    name = "proxy-injected-at-startup"
    category = Category.NETWORK_SECURITY
    description = "A start-up hook sends every HTTP request of Python through a proxy that refuses connections"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return http_client_modules(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        name = rng.choice(PROXY_PTH_NAMES)
        port = rng.choice([9, 1, 7])
        proxy = f"http://127.0.0.1:{port}"
        variables = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
        line = "import os; " + "; ".join(f"os.environ.setdefault('{v}', '{proxy}')" for v in variables)
        return [pth_hook(line, name)]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return [remove_pth_files(PROXY_PTH_NAMES)]


@register
class CaBundleEmptied(FaultOperator[FileTarget]):
    name = "ca-bundle-emptied"
    category = Category.NETWORK_SECURITY
    description = "Empty the system's certificate-authority bundle that TLS clients trust"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return probed_file(gold, CA_BUNDLE, "/usr/lib/ssl/cert.pem")

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        if rng.random() < 0.5:
            return [run(f": > {CA_BUNDLE}")]
        return [run(f"head -c 2000 {CA_BUNDLE} > /tmp/ca.part && mv /tmp/ca.part {CA_BUNDLE}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return ["update-ca-certificates --fresh"]


@register
class CaBundleLinkBroken(FaultOperator[FileTarget]):
    name = "ca-bundle-link-broken"
    category = Category.NETWORK_SECURITY
    description = "Point OpenSSL's default certificate file at a bundle that does not exist"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return probed_file(gold, CA_BUNDLE, "/usr/lib/ssl/cert.pem")

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        where = rng.choice(["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem"])
        return [run(f"rm -f {CA_BUNDLE} && ln -s {shlex.quote(where)} {CA_BUNDLE}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return [f"rm -f {CA_BUNDLE}", "update-ca-certificates --fresh"]
