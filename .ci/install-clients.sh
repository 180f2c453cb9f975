#!/usr/bin/env bash
# .ci/install-clients.sh - install the third-party programs that bp-helper's test
# suite drives (tests/test_real_clients.py and friends), on a Debian 12 (bookworm)
# machine reaching only Debian's archive (plus PyPI/npm). Idempotent: whatever is
# already there is skipped. .ci/run calls it before the test command; measured:
# about 3 minutes on a fresh machine (most of it building git), 0.3 s when done.
#
#   git >= 2.46  -> built from Debian trixie's git source package into
#                   $BP_GIT_PREFIX (default /opt/bp-git/bin/git); the system
#                   /usr/bin/git (2.39.x) is left alone.
#   docker CLI   -> kept if `docker` is already on PATH, else Debian docker.io
#                   (no daemon is started).
#   skopeo       -> Debian package.
#   R            -> r-base-core + r-cran-{curl,httr2,jsonlite,gitcreds}.
#
# Environment knobs:
#   BP_GIT_PREFIX   install prefix of the new git   (default /opt/bp-git)
#   BP_GIT_MIN      lowest acceptable git version   (default 2.46)
#   BP_SKIP_R=1     do not install R
#   BP_PROVISION_STATE  scratch/state dir           (default /var/lib/bp-provision)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

BP_GIT_PREFIX=${BP_GIT_PREFIX:-/opt/bp-git}
BP_GIT_MIN=${BP_GIT_MIN:-2.46}
BP_SKIP_R=${BP_SKIP_R:-0}
STATE=${BP_PROVISION_STATE:-/var/lib/bp-provision}
LOGDIR="$STATE/logs"
mkdir -p "$LOGDIR"
START=$SECONDS

say() { printf '[install-clients %3ds] %s\n' "$((SECONDS - START))" "$*"; }

# apt_run LABEL ARGS...: run apt-get quietly (output in $LOGDIR/apt-LABEL.log); wait for the dpkg/apt locks held by other apt runs
# (DPkg::Lock::Timeout covers dpkg's lock, the loop covers the lists lock of
# `apt-get update` and anything else that reports a busy lock).
apt_run() {
    local log="$LOGDIR/apt-$1.log" i
    shift
    for i in $(seq 1 120); do
        if apt-get -q -y -o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0 "$@" >"$log" 2>&1; then
            return 0
        fi
        if grep -qiE 'could not get lock|unable to acquire|unable to lock|is another process using it' "$log"; then
            sleep 5
            continue
        fi
        echo "apt-get $* failed; last lines of $log:" >&2
        tail -n 30 "$log" >&2
        return 1
    done
    echo "apt lock stayed busy for 10 minutes: apt-get $*" >&2
    return 1
}

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# version_ge A B: true if version A >= version B (Debian version ordering)
version_ge() { dpkg --compare-versions "$1" ge "$2"; }

git_version_of() { "$1" --version 2>/dev/null | awk '{print $3}'; }

need_git_build() {
    local v
    [ -x "$BP_GIT_PREFIX/bin/git" ] || return 0
    v=$(git_version_of "$BP_GIT_PREFIX/bin/git")
    [ -n "$v" ] && version_ge "$v" "$BP_GIT_MIN" && return 1
    return 0
}

# ---------------------------------------------------------------- plan ----
GIT_BUILD_DEPS=(gcc make perl dpkg-dev libcurl4-openssl-dev libexpat1-dev zlib1g-dev libpcre2-dev libssl-dev)
SKOPEO_PKGS=(skopeo)
R_PKGS=(r-base-core r-cran-curl r-cran-httr2 r-cran-jsonlite r-cran-gitcreds)
DOCKER_PKGS=(docker.io)

wanted=()
build_git=0
if need_git_build; then build_git=1; wanted+=("${GIT_BUILD_DEPS[@]}"); fi
wanted+=("${SKOPEO_PKGS[@]}")
[ "$BP_SKIP_R" = 1 ] || wanted+=("${R_PKGS[@]}")
install_docker=0
if ! command -v docker >/dev/null 2>&1; then install_docker=1; wanted+=("${DOCKER_PKGS[@]}"); fi

missing=()
for p in "${wanted[@]}"; do is_installed "$p" || missing+=("$p"); done

# ------------------------------------------------------- Debian packages ----
if [ "${#missing[@]}" -gt 0 ]; then
    say "apt-get update"
    apt_run update update
    say "apt-get install ${missing[*]}"
    # docker.io ships a daemon: make sure its maintainer scripts start nothing.
    created_policy=0
    if [ "$install_docker" = 1 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    rc=0
    apt_run install install --no-install-recommends "${missing[@]}" || rc=$?
    [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || exit "$rc"
else
    say "Debian packages already installed"
fi

# ------------------------------------------------------ git >= BP_GIT_MIN ----
# bookworm has git 2.39; bookworm-backports has no git; trixie's binary .deb
# needs a newer libc. So: fetch trixie's *source* package with a private apt
# configuration (the system's sources.list is not touched, nothing can be
# upgraded from trixie) and build it with plain make into $BP_GIT_PREFIX.
if [ "$build_git" = 1 ]; then
    SRC="$STATE/trixie-src"
    rm -rf "$SRC/build"
    mkdir -p "$SRC/lists/partial" "$SRC/cache/archives/partial" "$SRC/parts" "$SRC/build"
    cat >"$SRC/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security trixie-security main
EOF
    APTSRC=(-o Dir::Etc::SourceList="$SRC/sources.list" -o Dir::Etc::SourceParts="$SRC/parts"
            -o Dir::State::Lists="$SRC/lists" -o Dir::Cache="$SRC/cache" -o APT::Sandbox::User=root)
    say "fetching git source package from Debian trixie"
    apt_run trixie-src-update "${APTSRC[@]}" update
    (cd "$SRC/build" && apt_run trixie-src-git "${APTSRC[@]}" source git)
    srcdir=$(find "$SRC/build" -mindepth 1 -maxdepth 1 -type d -name 'git-*' | head -n 1)
    [ -n "$srcdir" ] || { echo "git source package did not unpack" >&2; exit 1; }
    srcver=${srcdir##*/git-}
    if ! version_ge "$srcver" "$BP_GIT_MIN"; then
        echo "trixie's git source is $srcver, older than $BP_GIT_MIN" >&2; exit 1
    fi
    say "building git $srcver into $BP_GIT_PREFIX (make -j$(nproc), ~3-4 min on 2 cores)"
    if ! make -C "$srcdir" -j"$(nproc)" prefix="$BP_GIT_PREFIX" \
            NO_TCLTK=1 NO_GETTEXT=1 NO_PYTHON=1 INSTALL_SYMLINKS=1 \
            all install >"$LOGDIR/git-build.log" 2>&1; then
        echo "git build failed; last lines of $LOGDIR/git-build.log:" >&2
        tail -n 40 "$LOGDIR/git-build.log" >&2
        exit 1
    fi
    rm -rf "$SRC/build"   # ~300 MB of objects; the install is what we keep
    need_git_build && { echo "built git at $BP_GIT_PREFIX/bin/git is not >= $BP_GIT_MIN" >&2; exit 1; }
else
    say "git >= $BP_GIT_MIN already at $BP_GIT_PREFIX/bin/git"
fi

# --------------------------------------------------------------- report ----
say "done; versions:"
echo "  system git : $(/usr/bin/git --version 2>/dev/null || echo missing) (/usr/bin/git)"
echo "  new git    : $("$BP_GIT_PREFIX/bin/git" --version) ($BP_GIT_PREFIX/bin/git)"
echo "  docker     : $(docker --version) ($(command -v docker))"
echo "  skopeo     : $(skopeo --version)"
if [ "$BP_SKIP_R" != 1 ]; then
    echo "  R          : $(R --version | head -n 1)"
    Rscript -e 'for (p in c("curl", "httr2", "jsonlite", "gitcreds")) cat(sprintf("  R %-9s: %s\n", p, as.character(packageVersion(p))))'
fi
