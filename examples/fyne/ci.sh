#!/usr/bin/env bash
# CI for examples/fyne, a module of its own: the Debian packages Fyne's GL
# driver builds against and the window test runs on, then formatting,
# tidiness, vet, and the tests under Xvfb (the headless test needs no
# display; TestWindow opens a real GL window, on Mesa's software GL).
# Run as root on Debian 12 with Go at /usr/local/go.
set -euo pipefail
cd "$(dirname "$0")"

export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
	echo "fyne ci: Go is not installed (expected at /usr/local/go)" >&2
	exit 1
fi

# Building: cgo (gcc and libc6-dev, which gcc only recommends) for GLFW and go-gl, pkg-config for go-gl's "gl",
# and the GL and X11 headers GLFW's X11 backend includes. Running the
# window: Xvfb and xauth for xvfb-run, and Mesa's DRI drivers, whose
# software rasterizer gives Xvfb its OpenGL.
packages=(
	gcc libc6-dev pkg-config
	libgl1-mesa-dev libx11-dev libxcursor-dev libxi-dev libxinerama-dev libxrandr-dev libxxf86vm-dev
	xvfb xauth libgl1-mesa-dri
)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "fyne ci: installing ${missing[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export CGO_ENABLED=1

go version
go mod download

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "fyne ci: gofmt -l lists unformatted files:" >&2
	echo "$unformatted" >&2
	exit 1
fi
if ! go mod tidy -diff; then
	echo "fyne ci: go.mod or go.sum is not tidy (run go mod tidy in examples/fyne)" >&2
	exit 1
fi
go vet ./...
# The headless build without cgo: Fyne's ci tag leaves the GL driver out.
CGO_ENABLED=0 go vet -tags ci ./...

# A display for TestWindow; ARCACHE_REQUIRE_SERVICES=1 makes it fail
# rather than skip should the display be missing all the same.
ARCACHE_REQUIRE_SERVICES=1 xvfb-run -a -s "-screen 0 1280x1024x24" go test -count=1 ./...
