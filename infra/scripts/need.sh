#!/usr/bin/env bash
# need.sh TOOL...: exits 1 naming each missing tool with the line that
# installs it (pip, apt, Homebrew). Tools: go, moto_server, cfn-lint,
# samtranslator (the Python module), aws, curl, npx, python3.
set -uo pipefail
PYTHON=${PYTHON:-python3}
missing=0
hint() {
  case $1 in
    go)            echo "Go 1.26 from https://go.dev/dl/ (Homebrew: brew install go)" ;;
    python3)       echo "apt: sudo apt-get install -y python3 | Homebrew: brew install python" ;;
    moto_server)   echo "pip: pip install 'moto[server]' | apt: sudo apt-get install -y python3-moto | Homebrew: pip3 install 'moto[server]'" ;;
    cfn-lint)      echo "pip: pip install cfn-lint | apt: sudo apt-get install -y cfn-lint | Homebrew: brew install cfn-lint" ;;
    samtranslator) echo "pip: pip install aws-sam-translator | apt: sudo apt-get install -y python3-samtranslator | Homebrew: pip3 install aws-sam-translator" ;;
    aws)           echo "pip: pip install awscli | apt: sudo apt-get install -y awscli | Homebrew: brew install awscli" ;;
    curl)          echo "apt: sudo apt-get install -y curl | Homebrew: brew install curl" ;;
    npx)           echo "apt: sudo apt-get install -y nodejs npm | Homebrew: brew install node" ;;
    *)             echo "see README.md, Prerequisites" ;;
  esac
}
for tool in "$@"; do
  case $tool in
    samtranslator) "$PYTHON" -c 'import samtranslator' >/dev/null 2>&1 && continue ;;
    *)             command -v "$tool" >/dev/null 2>&1 && continue ;;
  esac
  name=$tool
  [ "$tool" = samtranslator ] && name="aws-sam-translator (Python module for $PYTHON)"
  echo "missing tool: $name. Install it with one of: $(hint "$tool")" >&2
  missing=1
done
exit $missing
