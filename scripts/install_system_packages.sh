#!/usr/bin/env bash
# Debian tools the study needs: sox + its format plugins and espeak-ng (synthetic audio), a Java runtime
# (METEOR in pycocoevalcap), libsndfile, and Chromium with its driver for the browser tests of the UIs (selenium
# uses /usr/bin/chromedriver; it never downloads a driver). The sound *data* packages are not installed: `make assets`
# downloads them with `apt-get download` and unpacks only their audio into build/assets.
set -euo pipefail
need=()
command -v sox >/dev/null || need+=(sox libsox-fmt-all)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v java >/dev/null || need+=(default-jre-headless)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
