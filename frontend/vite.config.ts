/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The aiohttp server renders its own HTML shell and reads the manifest to find the
// hashed bundle, so the build needs no index.html; index.html exists only for `vite dev`.
export default defineConfig({
  plugins: [react()],
  base: "/static/dist/",
  build: {
    outDir: "../backend/ocrlive/static/dist",
    emptyOutDir: true,
    manifest: true,
    sourcemap: false,
    rolldownOptions: {
      input: "src/main.tsx",
    },
  },
  server: {
    proxy: {
      // changeOrigin stays false so Host matches the browser's Origin (the server refuses
      // cookie-authenticated WebSockets from another origin).
      "/api": { target: "http://127.0.0.1:8080", ws: true, changeOrigin: false },
      // The login link (/?token=...) sets the session cookie on the dev origin too.
      "^/\\?token=": { target: "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
