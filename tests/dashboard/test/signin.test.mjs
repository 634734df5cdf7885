// Signing in and out: the key exchanged for an HttpOnly session cookie, a wrong
// key explained, the session kept across a reload, nothing readable after sign-out.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {startGateway, openBrowser, signIn, shot} from './harness.mjs';

test('sign in, reload, sign out', async () => {
  const gw = await startGateway();
  const b = await openBrowser();
  try {
    const {page} = b;
    await page.goto(gw.url + '/');
    await page.getByLabel('API key').waitFor();
    await shot(page, 'sign-in');

    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByRole('alert').filter({hasText: 'That API key is not right'}).waitFor();

    await signIn(page, gw);
    // The token is out of scripts' reach.
    assert.equal(await page.evaluate(() => document.cookie), '');
    const cookies = await b.context.cookies();
    const session = cookies.find((c) => c.name === 'hookyard_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');

    await page.reload();
    await page.getByRole('navigation', {name: 'Main'}).waitFor();

    // A write from the page's origin without the CSRF header is refused even
    // though the browser sends the cookie.
    const status = await page.evaluate(async () => (await fetch('/2024-09-01/sources', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: 'x'}),
    })).status);
    assert.equal(status, 403);

    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByText('Signed out.').waitFor();
    const after = await page.evaluate(async () => (await fetch('/2024-09-01/sources')).status);
    assert.equal(after, 401);
    await page.reload();
    await page.getByLabel('API key').waitFor();

    // Phone width: the sign-in form fits.
    await page.setViewportSize({width: 390, height: 844});
    await shot(page, 'sign-in-phone');
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
    await gw.stop();
  }
});
