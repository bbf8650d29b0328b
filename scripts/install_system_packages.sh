#!/usr/bin/env bash
# Debian tools the study needs: sox + its format plugins and espeak-ng (synthetic audio), a Java runtime
# (METEOR in pycocoevalcap), libsndfile. The sound *data* packages are not installed: `make assets`
# downloads them with `apt-get download` and unpacks only their audio into build/assets.
set -euo pipefail
need=()
command -v sox >/dev/null || need+=(sox libsox-fmt-all)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v java >/dev/null || need+=(default-jre-headless)
command -v dpkg-deb >/dev/null || need+=(dpkg)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
