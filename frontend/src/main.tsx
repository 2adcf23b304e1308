import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { LiveProvider, createServices } from "./live/context";
import { SessionGate } from "./auth/SessionGate";
import { App } from "./pages/App";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("ocrlive: the page has no #root element");

const services = createServices({
  client: { log: (message) => console.warn(`[ocrlive] ${message}`) },
});

createRoot(root).render(
  <StrictMode>
    <LiveProvider services={services}>
      <SessionGate>
        <App />
      </SessionGate>
    </LiveProvider>
  </StrictMode>,
);
