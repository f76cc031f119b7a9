# Sourced by scripts/test, scripts/differential and scripts/oracle: the Python virtualenv
# with the reference implementation (rio-tiler 9.4.12 on rasterio's GDAL 3.10 wheel), made
# once in the cache folder. Nothing in the default build needs it.
#
#   . scripts/lib/rio-venv.sh && rio_venv    # sets RIO_PYTHON

rio_venv() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}"
  local venv="$cache/imbrex-rio-venv"
  # The versions the shared oracle was made with; a change here remakes the venv.
  local pins="rio-tiler==9.4.12 rasterio==1.4.4 numpy==2.4.6 morecantile==7.1.0"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
    if ! python3 -c 'import ensurepip' 2>/dev/null && [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    echo "installing $pins into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet $pins
    echo "$pins" > "$venv/.pins"
  fi
  RIO_PYTHON="$venv/bin/python"
  export RIO_PYTHON
}
