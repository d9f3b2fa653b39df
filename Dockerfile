# syntax=docker/dockerfile:1
# The operator image: built with the full toolchain, run on a distroless Node 24 with
# production dependencies only, as a non-root user, with nothing written to the root
# filesystem (readOnlyRootFilesystem: true in config/manager). Base images are pinned by
# digest; update them deliberately (e.g. with Renovate), never by tag.
# hack/check-image-build.sh runs the same build steps without a Docker engine.

FROM node:24-bookworm-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080
# The image's entrypoint is node itself.
CMD ["dist/main.js"]
