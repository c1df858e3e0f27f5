# syntax=docker/dockerfile:1
# Firebreak service image: one image, two roles (ROLE=api | worker), see docker-compose.yml.

# --- build: full dependency tree, compile TypeScript to dist/ ----------------------------------
FROM node:24-bookworm-slim AS build
# Node 24 ships npm 11, which package.json's `allowScripts` approvals (argon2, ssh2, ...) need.
WORKDIR /app
COPY package.json package-lock.json ./
# postinstall: native addons built for the Node that loads them.
COPY scripts/native-addons.mjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
# The web console (React + Vite): built into console/dist, served by the service at /.
COPY console ./console
RUN npm run build

# --- runtime: production dependencies and compiled output only ---------------------------------
FROM node:24-bookworm-slim AS runtime
# git: runbook provenance (the commit that last changed a runbook file); openssh-client: ssh tools.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client git \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/.data \
    RUNBOOKS_DIR=/app/runbooks
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/native-addons.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
COPY runbooks ./runbooks
# The unprivileged `node` user (uid 1000) from the base image; it owns only the data dir.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
