import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The build lands inside the Python package, which serves it at / (same origin as /api/v1).
export default defineConfig({
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../query_api/static/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080", "/healthz": "http://127.0.0.1:8080" },
  },
});
