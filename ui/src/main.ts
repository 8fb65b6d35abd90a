import { mount } from "svelte";
import App from "./App.svelte";
import { applyTheme, loadTheme } from "./lib/theme";
import "./styles/app.css";

applyTheme(loadTheme());

const target = document.getElementById("app");
if (!target) throw new Error("index.html lacks #app");

export default mount(App, { target });
