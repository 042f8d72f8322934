#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from the Go module proxy into the
# directory where envtest and setup-envtest look for them, once per machine.
# Prints that directory on stdout (use it as KUBEBUILDER_ASSETS).
#
# Why build: the usual download bucket is unreachable from air-gapped machines,
# and every one of these binaries is plain Go.
set -euo pipefail

K8S_VERSION=1.37.2
ETCD_VERSION=3.6.16
here=$(cd "$(dirname "$0")" && pwd)
goos=$(go env GOOS); goarch=$(go env GOARCH)
dir="${KUBEBUILDER_ASSETS:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/${K8S_VERSION}-${goos}-${goarch}}"
if [ "${1:-}" = "--dir" ]; then echo "$dir"; exit 0; fi
mkdir -p "$dir"

# The version each binary reports must match, or kubectl and the API server
# complain about skew; builds from the module proxy default to v0.0.0-master.
ver_pkg=k8s.io/component-base/version
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
k8s_ldflags="-s -w -X ${ver_pkg}.gitVersion=v${K8S_VERSION} -X ${ver_pkg}.gitMajor=1 -X ${ver_pkg}.gitMinor=${minor}"

have() { # name expected-version-substring version-args
	local out
	[ -x "$dir/$1" ] || return 1
	out=$("$dir/$1" $3 2>/dev/null) || return 1
	case "$out" in *"$2"*) return 0 ;; *) return 1 ;; esac
}

build() { # name module-dir ldflags
	local tmp
	echo ">> building $1 into $dir (first time only; kube-apiserver takes ~15 min on 2 cores)" >&2
	tmp=$(mktemp "$dir/.$1.XXXXXX")
	if ! (cd "$here/tools/$2" && CGO_ENABLED=0 go build -trimpath -ldflags "$3" -o "$tmp" .); then
		rm -f "$tmp"
		return 1
	fi
	mv -f "$tmp" "$dir/$1"
}

lock="$dir/.build.lock"
exec 9>"$lock"
flock 9 # two checkouts building at once would waste 15 minutes each

have etcd "etcd Version: ${ETCD_VERSION}" --version || build etcd etcd "-s -w"
have kubectl "v${K8S_VERSION}" "version --client" || build kubectl kubectl "$k8s_ldflags"
have kube-apiserver "v${K8S_VERSION}" --version || build kube-apiserver kube-apiserver "$k8s_ldflags"
echo "$dir"
