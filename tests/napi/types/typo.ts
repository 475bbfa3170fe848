// Must NOT type-check: a typo in a route parameter is error TS2339 (tests/napi/types.test.js).
import { createApp } from 'nexurejs';

createApp().get('/users/:id', (req) => req.params.idd);
