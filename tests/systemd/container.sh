# Real systemd for the tests: a Debian 12 rootfs made by mmdebstrap (cached by a hash of its
# recipe, outside the repo), booted with systemd-nspawn. Source this file.
#
#   ct_up DIR [nspawn args…]   extract the rootfs into DIR/root, boot it; sets CT_LEADER (the
#                             container's PID 1 as seen from the host) and CT_NSPAWN
#   ct_exec CMD…              run CMD inside (all namespaces of the container)
#   ct_down                   power off, kill what lingers, remove the cgroup
#
# Facts learnt on this machine (hybrid cgroup v1 layout, no systemd as PID 1):
# - nspawn is started from a cgroup of its own (name=systemd and unified hierarchies), never
#   from the root cgroup: systemd in the container would otherwise take over every process;
# - SIGTERM to nspawn may leave its inner child and the container's systemd running: power the
#   container off with SIGRTMIN+4 to its PID 1, then SIGKILL what is left, then remove the
#   cgroup tree depth-first;
# - bind directories, never single files; charon inside needs /dev/net/tun.
CT_CACHE=${CT_CACHE:-/var/cache/ikeheal-test}
CT_PACKAGES="systemd,systemd-sysv,dbus,charon-systemd,strongswan-swanctl,libstrongswan-standard-plugins,libstrongswan-extra-plugins,libcharon-extra-plugins,procps,iproute2,nftables,libyaml-0-2,libcurl4,libssl3,libnftnl11,libmnl0,libsystemd0,util-linux,python3-minimal"
CT_RECIPE="mmdebstrap --variant=essential --include=$CT_PACKAGES bookworm"
CT_LEADER= CT_NSPAWN= CT_CGROUP= CT_DIR=

ct_rootfs() { # prints the cached tarball's path, building it if the recipe changed
        local key tar
        key=$(printf '%s' "$CT_RECIPE" | sha256sum | cut -c1-16)
        tar=$CT_CACHE/rootfs-$key.tar.zst
        if [ ! -s "$tar" ]; then
                mkdir -p "$CT_CACHE" || return 1
                echo "container: building rootfs ($CT_RECIPE)" >&2
                $CT_RECIPE "$tar.tmp.tar.zst" >"$CT_CACHE/build-$key.log" 2>&1 \
                        || { echo "container: mmdebstrap failed, see $CT_CACHE/build-$key.log" >&2; rm -f "$tar.tmp.tar.zst"; return 1; }
                mv "$tar.tmp.tar.zst" "$tar"
        fi
        echo "$tar"
}

ct_up() {
        local dir=$1; shift
        local tar id
        tar=$(ct_rootfs) || return 1
        CT_DIR=$dir
        mkdir -p "$dir/root" && tar --zstd -xf "$tar" -C "$dir/root" || return 1
        id=$(printf '%s' "$dir" | sha256sum | cut -c1-8)
        CT_CGROUP=ikh-ct-$id
        for h in systemd unified; do
                [ -d /sys/fs/cgroup/$h ] && mkdir -p "/sys/fs/cgroup/$h/$CT_CGROUP"
        done
        # A subshell moves itself into the new cgroup and becomes nspawn; the caller stays put.
        (
                for h in systemd unified; do
                        [ -d "/sys/fs/cgroup/$h/$CT_CGROUP" ] && echo "$BASHPID" >"/sys/fs/cgroup/$h/$CT_CGROUP/cgroup.procs"
                done
                exec systemd-nspawn -q -D "$dir/root" -b --register=no --keep-unit --private-network \
                        --bind=/dev/net/tun --machine="ikh-$id" "$@" </dev/null >"$dir/console.log" 2>&1
        ) &
        CT_NSPAWN=$!
        # The container's PID 1 is nspawn's child, or its grandchild when nspawn forks an
        # inner child: take the first descendant named systemd.
        local i p c
        for ((i = 0; i < 500; i++)); do
                for p in $(pgrep -P "$CT_NSPAWN"); do
                        for c in "$p" $(pgrep -P "$p"); do
                                [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && { CT_LEADER=$c; break 2; }
                        done
                done
                [ -n "$CT_LEADER" ] && break
                sleep 0.02
        done
        [ -n "$CT_LEADER" ] || { echo "container: no systemd came up"; tail -20 "$dir/console.log"; return 1; }
        # The bus comes up a moment after PID 1: ask until systemd answers, then wait for boot.
        local state=
        for ((i = 0; i < 1500; i++)); do
                state=$(nsenter -t "$CT_LEADER" -a systemctl is-system-running 2>/dev/null)
                case $state in running|degraded) return 0 ;; esac
                sleep 0.02
        done
        echo "container: system state '$state'"; return 1
}

ct_exec() {
        nsenter -t "$CT_LEADER" -a "$@"
}

ct_down() {
        local inner=
        [ -n "$CT_NSPAWN" ] && inner=$(pgrep -P "$CT_NSPAWN" | grep -vx "${CT_LEADER:-x}" | head -1)
        if [ -n "$CT_LEADER" ] && kill -0 "$CT_LEADER" 2>/dev/null; then
                kill -s SIGRTMIN+4 "$CT_LEADER" 2>/dev/null
                for _ in $(seq 150); do kill -0 "$CT_LEADER" 2>/dev/null || break; sleep 0.02; done
                kill -KILL "$CT_LEADER" 2>/dev/null
        fi
        [ -n "$inner" ] && kill -KILL "$inner" 2>/dev/null
        [ -n "$CT_NSPAWN" ] && { kill -TERM "$CT_NSPAWN" 2>/dev/null; wait "$CT_NSPAWN" 2>/dev/null; }
        if [ -n "$CT_CGROUP" ]; then
                for h in systemd unified; do
                        local cg=/sys/fs/cgroup/$h/$CT_CGROUP
                        [ -d "$cg" ] || continue
                        for _ in $(seq 50); do
                                find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
                                [ -d "$cg" ] || break
                                sleep 0.05
                        done
                done
        fi
        [ -n "$CT_DIR" ] && rm -rf "$CT_DIR/root"
        CT_LEADER= CT_NSPAWN= CT_CGROUP=
}
