# idnode container: multi-stage build, runs `idnode serve` as a non-root user on the embedded store by default.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; the build is the explicit step below
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY handle ./handle
COPY registry ./registry
COPY resolver ./resolver
COPY bench ./bench
COPY plan ./plan
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# HOST=0.0.0.0 listens on the container's interfaces. Set ADVERTISED_HOST at run time to the address clients reach
# the node at (the host's IP: the site information, /api/site and every HS_SITE, carry it; without it they say
# 127.0.0.1 and the node warns at start). Credentials need TLS: TLS_CERT/TLS_KEY (mount the PEM files read-only),
# or a TLS-terminating proxy named in TRUST_PROXY. /data holds the embedded store (PGlite) and with it the node's keys.
ENV NODE_ENV=production \
    PORT=8000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/plan ./plan
# /keys: where several instances mount the key files they share (deploy/compose.yaml, deploy/k8s); a named volume
# mounted there starts out owned by the node user
RUN mkdir -p /data /keys && chown node:node /data /keys
USER node
VOLUME ["/data"]
# HTTP, and the native Handle protocol on TCP and UDP (NATIVE_PORT)
EXPOSE 8000 2641/tcp 2641/udp
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli.js", "serve"]
