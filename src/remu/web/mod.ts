export { readEmbeddedRecording, renderRemuPage } from "./page.js";
export type { RemuWebServer } from "./serve.js";
export { serveRemuPage, writeRemuPage } from "./serve.js";
