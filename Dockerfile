# KMK LiveStream: one container runs RTMP ingest, the ffmpeg ladder, the HLS origin and the API.
# Build: docker build -t kmk-live .   Run: docker run -p 1935:1935 -p 8080:8080 -v kmk-data:/srv/kmk/data -v kmk-media:/srv/kmk/media kmk-live
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source: the toolchain is needed in this stage only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.web.json ./
COPY bin ./bin
COPY config ./config
COPY scripts ./scripts
COPY src ./src
# The build needs esbuild's platform binary (an optional dependency); the runtime image then drops the npm
# static ffmpeg fallback and the dev tools: it uses Debian's ffmpeg.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system kmk && useradd --system --gid kmk --home-dir /srv/kmk --shell /usr/sbin/nologin kmk \
 && mkdir -p /srv/kmk/data /srv/kmk/media && chown -R kmk:kmk /srv/kmk
WORKDIR /srv/kmk
COPY --from=build /app/node_modules /app/node_modules
COPY --from=build /app/dist /app/dist
COPY --from=build /app/bin /app/bin
COPY --from=build /app/config /app/config
COPY package.json /app/package.json
ENV NODE_ENV=production \
    KMK_PATHS_DATA=/srv/kmk/data \
    KMK_PATHS_MEDIA=/srv/kmk/media
USER kmk
VOLUME ["/srv/kmk/data", "/srv/kmk/media"]
EXPOSE 1935 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.KMK_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM so kmk-live closes the live playlists before the container stops.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/kmk-live"]
CMD ["serve"]
STOPSIGNAL SIGTERM
