#!/bin/sh
# Stand-in for the official nginx image's entrypoint, for the image built offline from this
# host's nginx (scripts/build-images.sh): renders /etc/nginx/templates/*.template into
# /etc/nginx/conf.d/ with envsubst, then runs the command. Only variables that are set are
# substituted, so nginx's own $variables survive, as in the official image.
set -eu
if [ "${1:-}" = nginx ]; then
  # The literal ${NAME} list envsubst expects; names are identifiers, so splitting is safe.
  # shellcheck disable=SC2016,SC2046
  defined=$(printf '${%s} ' $(export -p | sed -n 's/^export \([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'))
  for template in /etc/nginx/templates/*.template; do
    [ -f "$template" ] || continue
    name=${template##*/}
    envsubst "$defined" <"$template" >"/etc/nginx/conf.d/${name%.template}"
  done
fi
exec "$@"
