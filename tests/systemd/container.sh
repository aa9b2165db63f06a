# Real systemd for the tests: a Debian 12 rootfs made by mmdebstrap, cached outside the repo by a
# hash of its recipe, booted with systemd-nspawn on a throw-away overlay. Source this file; it
# defines functions and CT_* variables only. See tests/systemd/README.md.
#
#   ct_build_rootfs        make sure the cached tarball and its extracted tree exist (built only
#                          when the recipe changed); sets CT_TAR, CT_TREE, CT_ROOTFS_NOTE
#   ct_up DIR [nspawn args…]
#                          boot the tree (read-only base, tmpfs overlay: every run starts from a
#                          clean rootfs) with console log DIR/console.log; waits until systemd
#                          reports running/degraded; sets CT_LEADER (the container's PID 1 as
#                          seen from the host), CT_NSPAWN, CT_BOOT_MS, CT_MACHINE
#   ct_exec CMD…           run CMD inside (all of the container's namespaces), as its root
#   ct_path PATH           print the host path of PATH inside the running container
#   ct_bus                 print a D-Bus address of the container's system bus, for busctl
#                          --address= or DBUS_SYSTEM_BUS_ADDRESS= on the host
#   ct_wait SECONDS CMD…   run CMD every 50 ms until it succeeds; 1 on timeout
#   ct_down                power off, kill what lingers (only processes of our own cgroup),
#                          remove the cgroup; safe to call twice and from an EXIT trap
#
# Facts learnt on this machine (kernel 6.x, hybrid cgroup v1 layout, no systemd as PID 1):
# - nspawn is started from a cgroup of its own, never from the root cgroup: systemd in the
#   container would otherwise take over every process of the machine. With the hybrid layout the
#   cgroup goes into name=systemd (required) and unified (when writable); only a subshell moves,
#   so the caller stays where it was;
# - SIGTERM to nspawn may leave the container's systemd running: power it off with SIGRTMIN+4 to
#   its PID 1, then TERM nspawn, then SIGKILL what is left in our cgroup, then remove the cgroup
#   tree depth-first (systemd made payload/ and init.scope/ under it);
# - --volatile=overlay keeps the cached tree read-only, so several containers may share it and
#   a crashed test leaves nothing behind; files written from the host go through
#   /proc/LEADER/root (ct_path), which resolves inside the container's mount namespace;
# - bind directories, never single files; charon-systemd inside needs --private-network (it
#   installs routes and XFRM state) and /dev/net/tun (--bind=/dev/net/tun works);
# - the bus and PID 1 answer a few ms after PID 1 exists: poll is-system-running until it does.
CT_CACHE=${CT_CACHE:-/var/cache/ikeheal-test}
# The recipe is the cache key: change a package and the next run rebuilds (~35 s, ~75 MB tar).
# util-linux brings setpriv (run as a second uid; useradd/groupadd come with passwd, which systemd
# pulls in), python3-minimal is there for scripted helpers inside.
CT_PACKAGES="systemd,systemd-sysv,dbus,charon-systemd,strongswan-swanctl,libstrongswan-standard-plugins,libstrongswan-extra-plugins,libcharon-extra-plugins,procps,iproute2,nftables,libyaml-0-2,libcurl4,libssl3,libnftnl11,libmnl0,libsystemd0,libmicrohttpd12,libjson-c5,util-linux,python3-minimal"
# A test that needs more (apt, to install the .deb) names it in CT_EXTRA_PACKAGES before sourcing:
# a recipe, and so a cached rootfs, of its own; the default recipe and its cache stay as they are.
CT_PACKAGES="$CT_PACKAGES${CT_EXTRA_PACKAGES:+,$CT_EXTRA_PACKAGES}"
CT_RECIPE="mmdebstrap --variant=essential --include=$CT_PACKAGES bookworm"
CT_TAR='' CT_TREE='' CT_ROOTFS_NOTE=''
CT_LEADER='' CT_NSPAWN='' CT_CGROUP='' CT_MACHINE='' CT_BOOT_MS='' CT_CGROUP_DIRS=()

ct__ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

ct_build_rootfs() {
        local key t
        key=$(printf '%s' "$CT_RECIPE" | sha256sum | cut -c1-16)
        CT_TAR=$CT_CACHE/rootfs-$key.tar.zst
        CT_TREE=$CT_CACHE/rootfs-$key
        mkdir -p "$CT_CACHE" || return 1
        # One builder at a time: another test run (or engineer) may be building the same key.
        exec {ct_lock}>"$CT_CACHE/.lock" && flock -w 600 "$ct_lock" || { echo "container: cache lock" >&2; return 1; }
        CT_ROOTFS_NOTE="rootfs cached ($CT_TAR)"
        if [ ! -s "$CT_TAR" ]; then
                t=$(date +%s%N)
                echo "container: building rootfs: $CT_RECIPE" >&2
                rm -rf "$CT_TREE" "$CT_TREE.ok"
                if ! $CT_RECIPE "$CT_TAR.tmp.tar.zst" >"$CT_CACHE/build-$key.log" 2>&1; then
                        echo "container: mmdebstrap failed, see $CT_CACHE/build-$key.log" >&2
                        rm -f "$CT_TAR.tmp.tar.zst"
                        exec {ct_lock}>&-
                        return 1
                fi
                mv "$CT_TAR.tmp.tar.zst" "$CT_TAR"
                CT_ROOTFS_NOTE="rootfs built in $(ct__ms "$t") ms ($CT_TAR, $(du -h "$CT_TAR" | cut -f1))"
        fi
        # The extracted tree is derived from the tarball; the stamp says the extraction finished.
        if [ ! -e "$CT_TREE.ok" ]; then
                t=$(date +%s%N)
                rm -rf "$CT_TREE" && mkdir -p "$CT_TREE" && tar --zstd -xf "$CT_TAR" -C "$CT_TREE" \
                        || { echo "container: cannot extract $CT_TAR" >&2; exec {ct_lock}>&-; return 1; }
                touch "$CT_TREE.ok"
                CT_ROOTFS_NOTE="$CT_ROOTFS_NOTE, extracted in $(ct__ms "$t") ms"
        fi
        exec {ct_lock}>&-
        return 0
}

# The cgroup hierarchies nspawn's shell is moved into: pure v2, or hybrid v1 (name=systemd, and
# unified if present). Prints one directory per line.
ct__cgroup_roots() {
        if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
                echo /sys/fs/cgroup
        else
                [ -d /sys/fs/cgroup/systemd ] && echo /sys/fs/cgroup/systemd
                [ -d /sys/fs/cgroup/unified ] && echo /sys/fs/cgroup/unified
        fi
}

ct_up() {
        local dir=$1 t0 i p c h state=
        shift
        [ -n "$CT_TREE" ] || ct_build_rootfs || return 1
        t0=$(date +%s%N)
        CT_MACHINE=ikh-$(printf '%s' "$dir" | sha256sum | cut -c1-10)
        CT_CGROUP=$CT_MACHINE
        CT_CGROUP_DIRS=()
        for h in $(ct__cgroup_roots); do
                if mkdir -p "$h/$CT_CGROUP" 2>/dev/null; then
                        CT_CGROUP_DIRS+=("$h/$CT_CGROUP")
                elif [ "$h" = /sys/fs/cgroup/systemd ] || [ "$h" = /sys/fs/cgroup ]; then
                        echo "container: cannot create cgroup $h/$CT_CGROUP" >&2
                        return 1
                fi
        done
        [ ${#CT_CGROUP_DIRS[@]} -gt 0 ] || { echo "container: no cgroup hierarchy found" >&2; return 1; }
        # The subshell moves itself into the new cgroup and becomes nspawn; the caller stays put.
        # A write that fails (unified not delegable) is tolerated, name=systemd is checked.
        (
                for c in "${CT_CGROUP_DIRS[@]}"; do
                        echo "$BASHPID" >"$c/cgroup.procs" 2>/dev/null || [ "${c%/*}" = /sys/fs/cgroup/unified ] || exit 97
                done
                exec systemd-nspawn -q -D "$CT_TREE" --volatile=overlay -b --register=no --keep-unit \
                        --private-network --bind=/dev/net/tun --machine="$CT_MACHINE" "$@" \
                        </dev/null >"$dir/console.log" 2>&1
        ) &
        CT_NSPAWN=$!
        # The container's PID 1 is nspawn's child (or grandchild when nspawn forks an inner
        # child): the first descendant named systemd.
        CT_LEADER=
        for ((i = 0; i < 1000; i++)); do
                for p in $(pgrep -P "$CT_NSPAWN"); do
                        for c in "$p" $(pgrep -P "$p"); do
                                [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && { CT_LEADER=$c; break 2; }
                        done
                done
                [ -n "$CT_LEADER" ] && break
                kill -0 "$CT_NSPAWN" 2>/dev/null || break
                sleep 0.02
        done
        if [ -z "$CT_LEADER" ]; then
                echo "container: no systemd came up; console:" >&2
                tail -20 "$dir/console.log" >&2
                return 1
        fi
        for ((i = 0; i < 1500; i++)); do
                state=$(ct_exec systemctl is-system-running 2>/dev/null)
                case $state in running | degraded) break ;; esac
                kill -0 "$CT_LEADER" 2>/dev/null || break
                sleep 0.02
        done
        CT_BOOT_MS=$(ct__ms "$t0")
        case $state in
        running) return 0 ;;
        degraded)
                echo "container: booted degraded (tolerated):" >&2
                ct_exec systemctl --failed --no-pager --plain --no-legend >&2
                return 0 ;;
        esac
        echo "container: system state '$state' after ${CT_BOOT_MS} ms; console:" >&2
        tail -20 "$dir/console.log" >&2
        return 1
}

ct_exec() {
        nsenter -t "$CT_LEADER" -a "$@"
}

ct_path() {
        echo "/proc/$CT_LEADER/root$1"
}

ct_bus() {
        echo "unix:path=/proc/$CT_LEADER/root/run/dbus/system_bus_socket"
}

ct_wait() {
        local n=$(($1 * 20)) i
        shift
        for ((i = 0; i < n; i++)); do
                "$@" && return 0
                sleep 0.05
        done
        return 1
}

# Every PID in our cgroup tree (all of them were started by us: nspawn and the container).
ct__cgroup_pids() {
        local c
        for c in "${CT_CGROUP_DIRS[@]}"; do
                [ -d "$c" ] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
        done | sort -un
}

ct_down() {
        local i c
        if [ -n "$CT_LEADER" ] && kill -0 "$CT_LEADER" 2>/dev/null; then
                # SIGRTMIN+4 is systemd's "poweroff": units stop, nspawn exits by itself.
                kill -s SIGRTMIN+4 "$CT_LEADER" 2>/dev/null
                for ((i = 0; i < 250; i++)); do
                        kill -0 "$CT_NSPAWN" 2>/dev/null || break
                        sleep 0.02
                done
        fi
        if [ -n "$CT_NSPAWN" ] && kill -0 "$CT_NSPAWN" 2>/dev/null; then
                kill -TERM "$CT_NSPAWN" 2>/dev/null
                for ((i = 0; i < 100; i++)); do
                        kill -0 "$CT_NSPAWN" 2>/dev/null || break
                        sleep 0.02
                done
        fi
        for ((i = 0; i < 50; i++)); do
                c=$(ct__cgroup_pids)
                [ -z "$c" ] && break
                # shellcheck disable=SC2086
                kill -KILL $c 2>/dev/null
                sleep 0.05
        done
        [ -n "$CT_NSPAWN" ] && wait "$CT_NSPAWN" 2>/dev/null
        for c in "${CT_CGROUP_DIRS[@]}"; do
                for ((i = 0; i < 50; i++)); do
                        [ -d "$c" ] || break
                        find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
                        sleep 0.05
                done
                [ -d "$c" ] && echo "container: could not remove cgroup $c" >&2
        done
        CT_LEADER='' CT_NSPAWN='' CT_CGROUP='' CT_CGROUP_DIRS=()
        return 0
}

# Compatibility with the first version of this library.
ct_rootfs() { ct_build_rootfs && echo "$CT_TAR"; }
