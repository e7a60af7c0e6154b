// Vite builds ui/ into ui/dist, which tauri-build embeds into hark-desktop.
// Vitest reads the `test` block of this same file.
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Relative asset paths: the shell serves dist/ from its own protocol root.
  base: "./",
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) runs ES2022 natively.
    target: "es2022",
    reportCompressedSize: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    // A DOM for the view tests; the pure modules do not mind it.
    environment: "happy-dom",
  },
});
