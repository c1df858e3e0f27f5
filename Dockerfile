# Firebreak service image: the same build for ROLE=api and ROLE=worker.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# npm 11 understands package.json's allowScripts (approved native install scripts).
RUN npm install -g npm@11
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
RUN npm install -g npm@11 && apt-get update && apt-get install -y --no-install-recommends openssh-client git \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY runbooks ./runbooks
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
