"""Text parsing and schema handling of the adapters (no server needed)."""

import inspect
import unittest

from envforge_client.actions import answer_value, observation_text, parse_action, task_id_of
from envforge_client.client import ws_url
from envforge_client.trl_env import EnvforgeTrlEnv, make_environment_class


class ParseActionTest(unittest.TestCase):
    def test_tool_call_is_the_last_tag(self):
        text = ('think <tool_call>{"name": "a", "arguments": {}}</tool_call> then '
                '<tool_call>\n{"name": "search", "arguments": {"city": "Zürich"}}\n</tool_call>')
        self.assertEqual(parse_action(text), {"type": "call_tool", "tool_name": "search",
                                              "arguments": {"city": "Zürich"}})

    def test_arguments_as_json_text(self):
        text = '<tool_call>{"name": "t", "arguments": "{\\"x\\": 1}"}</tool_call>'
        self.assertEqual(parse_action(text)["arguments"], {"x": 1})

    def test_submit_tool_call_is_an_answer(self):
        text = '<tool_call>{"name": "submit", "arguments": {"answer": {"days": 2}}}</tool_call>'
        self.assertEqual(parse_action(text), {"type": "submit", "answer": {"days": 2}})

    def test_plain_text_is_the_answer(self):
        self.assertEqual(parse_action("<answer>{\"a\": [1]}</answer>"), {"type": "submit", "answer": {"a": [1]}})
        self.assertEqual(parse_action("first <answer>x</answer> last <answer> Paris </answer>"),
                         {"type": "submit", "answer": "Paris"})
        self.assertEqual(parse_action("  42 "), {"type": "submit", "answer": 42})
        self.assertEqual(parse_action(""), {"type": "submit", "answer": ""})
        self.assertEqual(parse_action(None), {"type": "submit", "answer": ""})

    def test_garbage_tool_calls_are_invalid_not_crashes(self):
        for text in ['<tool_call>{not json</tool_call>', '<tool_call>[1, 2]</tool_call>',
                     '<tool_call>{"name": 5}</tool_call>', '<tool_call>{"name": "t", "arguments": 3}</tool_call>',
                     '<tool_call>{"name": "t", "arguments": "{bad"}</tool_call>', '<tool_call></tool_call>']:
            self.assertEqual(parse_action(text)["type"], "invalid", text)

    def test_answer_value(self):
        self.assertEqual(answer_value('{"x": "ü"}'), {"x": "ü"})
        self.assertEqual(answer_value("not json"), "not json")


class TaskIdTest(unittest.TestCase):
    def test_rows_and_labels(self):
        self.assertEqual(task_id_of("abc"), "abc")
        self.assertEqual(task_id_of(' {"task_id": "t1"} '), "t1")
        self.assertEqual(task_id_of({"task_id": "t2", "prompt": []}), "t2")
        self.assertEqual(task_id_of({"extra_info": {"task_id": "t3"}}), "t3")
        self.assertEqual(task_id_of({"info": '{"task_id": "t4"}'}), "t4")
        for bad in [{}, {"extra_info": {}}, {"info": "{bad"}, 5, None]:
            with self.assertRaises(ValueError):
                task_id_of(bad)


class ObservationTextTest(unittest.TestCase):
    def test_result_and_error(self):
        self.assertEqual(observation_text({"result": {"a": "é"}, "error": None}), '{"a": "é"}')
        self.assertEqual(observation_text({"result": "plain"}), "plain")
        self.assertEqual(observation_text({"result": None, "error": {"error_type": "timeout", "message": "slow"}}),
                         "Error (timeout): slow")


class WsUrlTest(unittest.TestCase):
    def test_schemes(self):
        self.assertEqual(ws_url("http://127.0.0.1:8000"), "ws://127.0.0.1:8000/ws")
        self.assertEqual(ws_url("https://h/base/"), "wss://h/base/ws")
        for bad in ["127.0.0.1:8000", "ftp://h", ""]:
            with self.assertRaises(ValueError):
                ws_url(bad)


class TrlClassTest(unittest.TestCase):
    TOOLS = [
        {"type": "function", "function": {
            "name": "search_flights", "description": "Find flights.",
            "parameters": {"type": "object", "properties": {
                "origin": {"type": "string", "description": "Departure city"},
                "max_price": {"type": "number"}, "class": {"type": "string"}},
                "required": ["origin"]}}},
        {"type": "function", "function": {"name": "get-weather", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "reset", "parameters": {}}},
        {"type": "function", "function": {"name": "submit", "parameters": {}}},
    ]

    def test_one_public_method_per_tool_with_a_schema_trl_can_read(self):
        cls = make_environment_class("http://127.0.0.1:1", self.TOOLS)
        self.assertTrue(issubclass(cls, EnvforgeTrlEnv))
        method = cls.search_flights
        sig = inspect.signature(method)
        self.assertEqual(list(sig.parameters), ["self", "origin", "max_price"])  # "class" is a keyword
        self.assertIs(sig.parameters["origin"].default, inspect.Parameter.empty)
        self.assertEqual(method.__annotations__, {"origin": str, "max_price": float, "return": str})
        self.assertIn("Args:\n    origin: Departure city", method.__doc__)
        self.assertTrue(callable(cls.get_weather))
        self.assertIs(cls.reset, EnvforgeTrlEnv.reset)  # a tool cannot shadow the episode's methods
        self.assertIs(cls.submit, EnvforgeTrlEnv.submit)
        self.assertIn("Args:", EnvforgeTrlEnv.submit.__doc__)

    def test_tools_as_json_text(self):
        import json
        cls = make_environment_class("http://127.0.0.1:1", json.dumps(self.TOOLS))
        self.assertTrue(hasattr(cls, "search_flights"))


if __name__ == "__main__":
    unittest.main()
