# Stand-in for node:20-bookworm-slim (Docker Hub unreachable): Debian
# bookworm with this host's Node 20 and npm, and user node (1000:1000) as in
# the official image. Built by test/docker/stand-ins.ts.
FROM qm-test/debian:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# the host's certificate authorities: npm in the build reaches the registry as the host does
COPY ca-certificates.crt /usr/local/share/qm-host-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/qm-host-ca.crt
CMD ["node"]
