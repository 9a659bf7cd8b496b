# The fraud service (Node): docker build -f deploy/docker/fraud.Dockerfile -t <registry>/platform/fraud:0.1.0 services/fraud
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The manifests set APP_PORT=3001 and probe /alive and /health there; the sidecar injects DAPR_HTTP_PORT.
USER node
CMD ["node", "dist/main.js"]
