"""The shared classes of static/codeb.css do what templates/_ui.html promises, in Chromium.

No page of this area uses every class yet (the admin's users table, the first sign-in's
steps and the shell's skeleton do, in their areas), so each is put on a real page here
with the markup _ui.html documents, and measured."""

from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}
TABLE = """() => {
    const rows = Array.from({length: 3}, (_, i) => `<tr><td data-label="Login">person${i}</td>
        <td data-label="Email">maximiliane.mustermann-schmidt${i}@personalverwaltung.example</td>
        <td data-label="Status"><span class="badge badge-success">Active</span></td>
        <td data-label="Last sign-in">2 December 2026, 10:35</td></tr>`).join('');
    document.querySelector('main').insertAdjacentHTML('beforeend', `
        <div class="toolbar"><label class="toolbar-search">Search<input type="search" id="q"></label>
          <label>Status<select id="s"><option>All</option></select></label></div>
        <table class="data-table" id="t"><thead><tr><th scope="col">Login</th><th scope="col">Email</th>
          <th scope="col">Status</th><th scope="col">Last sign-in</th></tr></thead><tbody>${rows}</tbody></table>
        <ol class="steps" id="steps"><li>Profile</li><li aria-current="step">Passkey</li><li>Done</li></ol>
        <span class="skeleton skeleton-line" id="sk"></span>
        <nav class="tabs"><ul><li><a href="#" aria-current="page">Profile</a></li>
          <li><a href="#">Roles</a></li></ul></nav>`);
}"""


def test_data_table_becomes_cards_on_a_phone_and_the_page_never_scrolls_sideways(served, new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(served + "/signin")
    page.evaluate(TABLE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("getComputedStyle(document.querySelector('#t tr')).display") == "block"
    label = page.evaluate("getComputedStyle(document.querySelector('#t td'), '::before').content")
    assert label == '"Login"'
    assert not page.locator("#t thead").is_visible() or page.evaluate(
        "document.querySelector('#t thead').getBoundingClientRect().width") <= 1


def test_data_table_is_a_table_on_a_wide_screen(served, new_context):
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(served + "/signin")
    page.evaluate(TABLE)
    assert page.evaluate("getComputedStyle(document.querySelector('#t tr')).display") == "table-row"
    assert page.evaluate("getComputedStyle(document.querySelector('#t td'), '::before').content") == "none"
    # A page with a data table takes the wide column, and the header lines up with it.
    header = page.locator("header.top").bounding_box()
    main = page.locator("main").bounding_box()
    assert abs(header["x"] - main["x"]) < 1 and abs(header["width"] - main["width"]) < 1
    assert main["width"] > 40 * 16


def test_steps_mark_the_current_one_and_the_done_ones(served, new_context):
    page = new_context().new_page()
    page.goto(served + "/signin")
    page.evaluate(TABLE)
    done = page.evaluate("getComputedStyle(document.querySelector('#steps li'), '::before').content")
    current = page.evaluate("getComputedStyle(document.querySelector('#steps li[aria-current]'), '::before').content")
    assert done == '"✓"' and current != done


def test_skeleton_shimmers_but_not_for_reduced_motion(served, new_context):
    for motion, animated in (("no-preference", True), ("reduce", False)):
        page = new_context(reduced_motion=motion).new_page()
        page.goto(served + "/signin")
        page.evaluate(TABLE)
        expect(page.locator("#sk")).to_be_attached()
        name = page.evaluate("getComputedStyle(document.querySelector('#sk')).animationName")
        assert (name == "skeleton-shimmer") is animated, (motion, name)


def test_invalid_field_has_the_error_border(served, new_context):
    page = new_context().new_page()
    page.goto(served + "/signin")
    page.evaluate("document.querySelector('#email').setAttribute('aria-invalid', 'true')")
    page.locator("#email").hover()
    colour = page.evaluate("getComputedStyle(document.querySelector('#email')).borderTopColor")
    error = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--error').trim()")
    assert colour == "rgb(179, 38, 30)" and error == "#b3261e"
