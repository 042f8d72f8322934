#!/usr/bin/env bash
# Regenerates CRDs, RBAC and deepcopy code and fails if anything changed:
# generated files are committed, and a stale one means the API a user applies
# is not the API the code implements.
set -euo pipefail
cd "$(dirname "$0")/.."
files() { git ls-files -co --exclude-standard config/crd config/rbac 'api/**/zz_generated*.go' | sort; }
snapshot() { for f in $(files); do echo "$f $(sha256sum < "$f")"; done; }
before=$(snapshot)
make --no-print-directory manifests generate >/dev/null
after=$(snapshot)
if [ "$before" != "$after" ]; then
	echo "Generated files were stale and have been regenerated; review and commit them:" >&2
	diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "  " $2}' >&2
	exit 1
fi
echo "generated files are up to date"
