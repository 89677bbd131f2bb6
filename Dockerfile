# infergate container image. UNBUILT: no Docker engine runs where this project is developed,
# so this file has not been built or run; review it before relying on it.
#
#   docker build -t infergate .
#   docker run -p 8000:8000 -p 8001:8001 -p 8002:8002 -v $PWD/models:/app/models infergate

# ---- build: install every dependency and compile TypeScript ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
# onnxruntime-node would download CUDA binaries at install time; the CPU image does not need them
# (this image's npm 10 ignores the allowScripts denial in package.json).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

# ---- runtime: compiled code, production dependencies, sample models; non-root ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY models ./models
RUN useradd --system --uid 10001 --home-dir /app infergate && mkdir -p /app/.infergate && chown infergate /app/.infergate
USER infergate
EXPOSE 8000 8001 8002
# Readiness (not liveness) so an orchestrator sees a draining or model-less server as unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8000/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM drains: readiness turns false, in-flight requests finish, then the process exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve", "--model-repository", "/app/models"]
