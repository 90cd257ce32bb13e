#!/usr/bin/env bash
# CI for the Ebitengine example: installs what building Ebitengine (cgo,
# X11 and OpenGL headers) and running it without a display (Xvfb) need,
# then checks formatting, vet and tidiness and runs the test under Xvfb,
# which draws 120 frames and compares the last with testdata/reference.png.
# Runs as root on Debian 12; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")"

export PATH="$PATH:/usr/local/go/bin"
export CGO_ENABLED=1
# No display here is a failure, not a reason to skip.
export ARCACHE_REQUIRE_SERVICES=1

packages=(
	gcc pkg-config
	libgl1-mesa-dev libxcursor-dev libxi-dev libxinerama-dev libxrandr-dev libxxf86vm-dev libasound2-dev
	xvfb xauth
)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "ci: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

go version
go mod download

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "ci: gofmt -l lists unformatted files in examples/ebiten:" >&2
	echo "$unformatted" >&2
	exit 1
fi
if ! go mod tidy -diff; then
	echo "ci: examples/ebiten's go.mod or go.sum is not tidy (run go mod tidy there)" >&2
	exit 1
fi
go vet ./...
xvfb-run -a -s "-screen 0 1280x1024x24" go test -count=1 ./...
