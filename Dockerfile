# syntax=docker/dockerfile:1
# The operator image: `npm run bundle` (esbuild) makes one self-contained file; the runtime
# stage is a distroless Node 24 with that file and nothing else (no node_modules, no npm, no
# shell), as a non-root user, writing nothing to the root filesystem
# (readOnlyRootFilesystem: true in config/manager). Base images are pinned by digest and
# updated by Renovate (renovate.json). hack/check-image-build.sh runs the same steps without
# a Docker engine and measures what the image adds to the Node runtime.

FROM node:24-bookworm-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY hack/bundle.ts hack/third-party-licenses.ts hack/with-node.sh hack/ensure-node.sh hack/lib.sh ./hack/
COPY src ./src
RUN npm run bundle && node hack/third-party-licenses.ts

FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/dist/operator.mjs /app/dist/operator.mjs.LEGAL.txt /app/dist/THIRD_PARTY_LICENSES.txt ./
COPY LICENSE ./
USER 65532:65532
EXPOSE 8443 8081
# The image's entrypoint is node itself. --max-opt=2: V8 optimizes up to Maglev, never with
# TurboFan, whose code is ~5 MB of the node binary mapped in once any function is hot enough
# for it (idle with one grant 84.5 -> 79.5 MB; CPU to ready among 50,000 pods 3.6-3.7 ->
# 3.9-4.2 s: docs/benchmark.md, "Idle", session 3). Not allowed in NODE_OPTIONS.
CMD ["--max-opt=2", "operator.mjs"]
