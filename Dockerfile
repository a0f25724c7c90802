# One image for the cinema demo's processes (API instance, read model); the command picks the process.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages/txkit/package.json packages/txkit/
COPY packages/cinema-demo/package.json packages/cinema-demo/
COPY packages/bench/package.json packages/bench/
RUN npm ci --no-audit --no-fund --workspace txkit --workspace cinema-demo --include-workspace-root
COPY packages/txkit packages/txkit
COPY packages/cinema-demo packages/cinema-demo
RUN npx turbo run build --filter=cinema-demo... \
 && npm prune --omit=dev --workspace txkit --workspace cinema-demo

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages/txkit/package.json packages/txkit/package.json
COPY --from=build /app/packages/txkit/dist packages/txkit/dist
COPY --from=build /app/packages/cinema-demo/package.json packages/cinema-demo/package.json
COPY --from=build /app/packages/cinema-demo/dist packages/cinema-demo/dist
USER node
WORKDIR /app/packages/cinema-demo
CMD ["node", "dist/api-server.js"]
