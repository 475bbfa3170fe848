// The package's types from an ES module (the "import" condition of the exports map).
import nexurejs, { createApp } from 'nexurejs';
import type { App } from 'nexurejs';

const app: App = createApp();
app.get('/esm/:name', (req) => req.params.name.toUpperCase());
const same: typeof createApp = nexurejs.createApp;
void same;
