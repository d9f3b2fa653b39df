#!/usr/bin/env bash
# Installs what the local node needs from Debian's archive, once: containerd and runc
# (the container runtime), the CNI plugins (bridge, host-local, loopback), busybox-static
# (the contents of the locally assembled images; no registry is reachable) and the
# network tools kubelet and the CNI plugins call. Needs root (or passwordless sudo).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(containerd runc containernetworking-plugins busybox-static iptables iproute2 mount util-linux conntrack ethtool socat)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

command -v apt-get >/dev/null || { log "apt-get not found: install ${missing[*]} by hand for the local node"; exit 1; }
sudo=""
if ((EUID != 0)); then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null || { log "installing ${missing[*]} needs root"; exit 1; }
  sudo="sudo -n"
fi
log "installing ${missing[*]} from the Debian archive (a one-off)"
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# The Debian package starts containerd as a system service; the local node runs its own
# containerd with its own root and socket, so the system one is not needed.
log "installed ${missing[*]}"
