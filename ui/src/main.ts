// The window's entry point: builds the controller and the view, draws on
// every change, and starts listening to the shell.

import { App } from "./app";
import { View } from "./view";

const app = new App();
const view = new View(app);
view.bind();
app.subscribe(() => view.render());
view.render();
app.start().catch((error: unknown) => app.fail(error));
