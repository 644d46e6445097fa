#!/usr/bin/env bash
# Runs a Python unittest file with the system's python3.
set -euo pipefail
exec python3 "$1" -v
