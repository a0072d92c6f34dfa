#!/usr/bin/env bash
# make deploy-check: install the pinned template checkers (if missing or their pins
# changed) into a cache outside the repository, then run them all. No AWS
# credentials and no network beyond the package registries are needed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
deploy=$(dirname "$here")
template=$deploy/template.yaml
tools=${GANNET_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/gannet/deploy-tools}
python=${PYTHON:-python3}
mkdir -p "$tools"

stamp() { cat "$@" | sha256sum | cut -c1-16; }

# venv NAME: a virtualenv with requirements-NAME.txt under constraints-NAME.txt.
venv() {
	local name=$1 dir=$tools/$1 want
	want=$(stamp "$here/requirements-$name.txt" "$here/constraints-$name.txt")
	if [ "$(cat "$dir/.gannet-stamp" 2>/dev/null)" != "$want" ]; then
		echo "deploy-check: installing $name tools into $dir"
		rm -rf "$dir"
		"$python" -m venv "$dir"
		"$dir/bin/pip" install --quiet --disable-pip-version-check \
			-r "$here/requirements-$name.txt" -c "$here/constraints-$name.txt"
		echo "$want" > "$dir/.gannet-stamp"
	fi
}

asl() {
	local dir=$tools/asl want
	want=$(stamp "$here/package.json" "$here/package-lock.json")
	if [ "$(cat "$dir/.gannet-stamp" 2>/dev/null)" != "$want" ]; then
		echo "deploy-check: installing asl-validator into $dir"
		rm -rf "$dir" && mkdir -p "$dir"
		cp "$here/package.json" "$here/package-lock.json" "$dir/"
		(cd "$dir" && npm ci --no-audit --no-fund --silent)
		echo "$want" > "$dir/.gannet-stamp"
	fi
}

venv sam
venv checkov
asl

# Offline and quiet: sam validate wants a region, never credentials; no telemetry;
# checkov must not fetch its guideline mappings or policy updates.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_REGION=${AWS_REGION:-us-east-1}
export SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE CHECKOV_SKIP_DOWNLOAD=TRUE

fail=0
step() {
	echo "== $*"
	if ! "$@"; then
		echo "deploy-check: FAILED: $*"
		fail=1
	fi
}

echo "deploy-check: cfn-lint $("$tools/sam/bin/cfn-lint" --version | awk '{print $2}'), $("$tools/sam/bin/sam" --version), checkov $("$tools/checkov/bin/checkov" --version), asl-validator $("$tools/asl/node_modules/.bin/asl-validator" --version)"

# cfn-lint exits non-zero on warnings too: every warning is fixed or explained
# (ignore_checks with a comment) in the template.
step "$tools/sam/bin/cfn-lint" "$template"
step "$tools/sam/bin/sam" validate --template-file "$template"
step "$tools/sam/bin/sam" validate --lint --template-file "$template"

allon=$(mktemp -d)
trap 'rm -rf "$allon"' EXIT
"$tools/sam/bin/python" "$here/all-on.py" "$template" "$allon"
for t in "$template" "$allon/template.yaml"; do
	step "$tools/checkov/bin/checkov" --quiet --compact --skip-download --framework cloudformation -f "$t"
done
step "$tools/sam/bin/cfn-lint" "$allon/template.yaml"

for sm in "$deploy"/statemachines/*.asl.json; do
	step "$tools/asl/node_modules/.bin/asl-validator" --json-path "$sm"
done

if [ "$fail" != 0 ]; then
	echo "deploy-check: FAILED"
	exit 1
fi
echo "deploy-check: all checks passed"
